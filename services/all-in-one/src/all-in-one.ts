// The all-in-one composition root: the four services in one process on the
// embedded defaults (PostgreSQL started by the app, every other port in memory).
// They still talk to each other over real gRPC on loopback, so this mode runs the
// production code path. Two shortcuts for what clients send: the edge hands
// WebSocket upgrades to the connect service in-process instead of tunnelling them
// over loopback, so every pushed frame is written to one socket, not two (the
// tunnel is pure copying); and it runs clients' unary calls through the services'
// own middleware and handlers in-process (localCalls) instead of forwarding them
// over a second HTTP/2 connection, which cost more CPU than core's handling of a
// SendMessage. Edge, core and connect also share one access-token verifier (one
// cache: a token is signature-checked once per process, not once per service).
// The same PRESENCE/BUS/LIMITS settings as the standalone services select the
// adapters (openInfrastructure), memory by default.
import { startAuthService, loadAuthConfig } from '@im-mesh/auth';
import { startConnectService, loadConnectConfig } from '@im-mesh/connect';
import { startCoreService, loadCoreConfig } from '@im-mesh/core';
import { startEdgeService, loadEdgeConfig } from '@im-mesh/edge';
import { join } from 'node:path';
import { embeddedFieldKeys } from './embedded-field-keys.js';
import { embeddedServiceAccount } from './embedded-service-account.js';
import {
  AccessTokenVerifier,
  blobStorageConfigShape,
  createLogger,
  env,
  infrastructureConfigShape,
  keyServiceJwks,
  loadConfig,
  openBlobStorage,
  openChannel,
  openInfrastructure,
  startEmbeddedPostgres,
  type ConfigSource,
  type Logger,
  type RunningService,
} from '@im-mesh/platform';

export const allInOneConfigShape = {
  LOG_LEVEL: env.logLevel(),
  /** External PostgreSQL; when unset, an embedded one runs with its data under IM_VAR_DIR. */
  DATABASE_URL: env.optionalString(),
  IM_VAR_DIR: env.string('./var'),
};

export interface AllInOne {
  /** The public address, e.g. http://127.0.0.1:9191. */
  url: string;
  databaseUrl: string;
  services: { auth: RunningService; core: RunningService; connect: RunningService; edge: RunningService };
  logger: Logger;
  stop(): Promise<void>;
}

export interface AllInOneOptions {
  /** Pino destination; stdout by default. */
  logDestination?: NodeJS.WritableStream;
}

export async function startAllInOne(source: ConfigSource = process.env, options: AllInOneOptions = {}): Promise<AllInOne> {
  const config = loadConfig(allInOneConfigShape, source);
  const infrastructureConfig = loadConfig(infrastructureConfigShape, source);
  // Validate every service's configuration before starting anything, so a typo
  // fails fast with the key's name instead of after PostgreSQL has started.
  loadAuthConfig(source);
  loadCoreConfig(source);
  loadConnectConfig(source);
  loadEdgeConfig(source);

  // One stream for the whole process; each service's lines carry its own name.
  const root = createLogger({ level: config.LOG_LEVEL, destination: options.logDestination });
  const logger = root.child({ service: 'all-in-one' });
  const cleanup: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error }, 'error while stopping');
      }
    }
    cleanup.length = 0;
  };

  try {
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres(config.IM_VAR_DIR, logger.child({ component: 'postgres' }));
      cleanup.push(() => embedded.stop());
      databaseUrl = embedded.url;
    }

    const infrastructure = await openInfrastructure(
      infrastructureConfig,
      { presence: true, bus: true, rateLimiter: true, ephemeral: true, settings: true },
      logger,
      `all-in-one-${process.pid}`,
    );
    cleanup.push(() => infrastructure.close());
    const { presence, bus, ephemeral: nonces, rateLimiter } = infrastructure;

    // File bytes: with BLOBS=local they live under IM_VAR_DIR/blobs and their signed
    // URLs are served on the edge's port, whose address is known once it listens.
    let edgeUrl: string | undefined;
    const blobConfig = loadConfig(blobStorageConfigShape, { BLOBS_DIR: join(config.IM_VAR_DIR, 'blobs'), ...source });
    const blobs = await openBlobStorage(blobConfig, {
      logger: logger.child({ component: 'blobs' }),
      defaultPublicUrl: () => edgeUrl ?? `http://${loadEdgeConfig(source).EDGE_HOST}:${loadEdgeConfig(source).EDGE_PORT}`,
    });
    cleanup.push(() => blobs.store.close());

    // The service account core and connect use for each other's internal methods,
    // new on every start: nothing outside this process ever holds it.
    const internalAccount = embeddedServiceAccount();
    const auth = await startAuthService({
      // The generated key-encryption key and field keys live with the rest of the embedded state.
      config: loadAuthConfig({
        AUTH_KEY_ENCRYPTION_KEY_FILE: join(config.IM_VAR_DIR, 'auth-kek'),
        ...(await embeddedFieldKeys(join(config.IM_VAR_DIR, 'auth-field-keys.json'), source)),
        ...source,
        AUTH_SERVICE_ACCOUNTS: [source['AUTH_SERVICE_ACCOUNTS'], internalAccount.entry].filter(Boolean).join(','),
      }),
      logger: root.child({ service: 'auth' }),
      databaseUrl,
      nonces,
      rateLimiter,
      revocations: { presence, bus },
    });
    cleanup.push(() => auth.stop());

    const withAuth = { ...source, AUTH_ADDRESS: auth.grpcAddress, ...internalAccount.credentials };
    // One verifier of access tokens for edge, core and connect: one copy of auth's
    // keys and one cache, so a token is signature-checked once per process
    // (a reconnecting client's token was checked by each of the three).
    const coreConfig = loadCoreConfig(withAuth);
    const keysChannel = openChannel(auth.grpcAddress);
    cleanup.push(async () => keysChannel.close());
    const tokenVerifier = new AccessTokenVerifier({
      issuer: coreConfig.JWT_ISSUER,
      audience: coreConfig.JWT_AUDIENCE,
      source: keyServiceJwks(keysChannel),
    });
    const core = await startCoreService({
      config: coreConfig,
      logger: root.child({ service: 'core' }),
      databaseUrl,
      presence,
      bus,
      blobs: { store: blobs.store },
      tokenVerifier,
    });
    cleanup.push(() => core.stop());

    const connect = await startConnectService({
      config: loadConnectConfig({ ...withAuth, CORE_ADDRESS: core.grpcAddress }),
      logger: root.child({ service: 'connect' }),
      presence,
      bus,
      settings: infrastructure.settings,
      tokenVerifier,
    });
    const stopConnect = () => connect.stop();
    cleanup.push(stopConnect);

    const edge = await startEdgeService({
      config: loadEdgeConfig(withAuth),
      logger: root.child({ service: 'edge' }),
      rateLimiter,
      settings: infrastructure.settings,
      upstreams: {
        auth: auth.grpcAddress,
        core: core.grpcAddress,
        connect: connect.grpcAddress,
        connectWs: connect.httpAddress,
      },
      extraMetrics: [auth.metrics, core.metrics, connect.metrics],
      extraReadiness: [...infrastructure.readiness, ...auth.readiness, ...core.readiness, ...connect.readiness],
      httpHandlers: blobs.httpHandler ? [blobs.httpHandler] : [],
      localWebSockets: connect.acceptWebSocket,
      localCalls: { auth: auth.localCalls, core: core.localCalls, connect: connect.localCalls },
      tokenVerifier,
    });
    edgeUrl = edge.url;
    // Cleanup runs in reverse, so the stop order is: the edge stops accepting; connect
    // drains, its GoAway reaching clients on the WebSockets it was handed and the
    // streams the edge still carries, which then end; the edge stops (promptly, nothing is left open);
    // then core and auth.
    cleanup.splice(cleanup.indexOf(stopConnect), 0, () => edge.stop());
    cleanup.push(() => edge.stopAccepting());

    return {
      url: edge.url,
      databaseUrl,
      services: { auth, core, connect, edge },
      logger,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
