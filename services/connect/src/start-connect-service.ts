// Composition of one connect node: token verification against auth's JWKS, the
// delivery reporter towards core, the connection hub, one dispatch, and the two
// transports over it (gRPC ConnectService; WebSocket /ws on the HTTP server that
// also serves /healthz, /readyz and /metrics), plus the node's push-bus consumer.
import { connectV1, internalV1 } from '@im-mesh/contracts';
import { z } from 'zod';
import {
  AccessTokenVerifier,
  createGrpcServer,
  createServiceClient,
  keyServiceJwks,
  liveSetting,
  MemoryLiveSettings,
  openChannel,
  registerPushBusMetrics,
  serviceCredentialsFrom,
  serviceTokenSourceFor,
  startServiceHttpServer,
  type LiveSettingsSource,
  type Logger,
  type PresenceRegistry,
  type PushBus,
  type PushSubscription,
  type RunningService,
  type ServiceHttpServer,
} from '@im-mesh/platform';
import type { ConnectConfig } from './config.js';
import { DeliveryReporter } from './delivery/delivery-reporter.js';
import { AckForwarder } from './delivery/ack-forwarder.js';
import { consumePushes } from './delivery/push-consumer.js';
import { ConnectMetrics } from './metrics.js';
import { connectService, connectServiceAuth } from './service.js';
import { ConnectionHub } from './sessions/connection-hub.js';
import type { FrameRate } from './sessions/frame-allowance.js';
import { createDispatch } from './sessions/dispatch.js';
import { TypingForwarder } from './sessions/typing-forwarder.js';
import { authSessionCheck } from './sessions/session-check.js';
import { serveWebSockets, type WebSocketEndpoint } from './transports/websocket-endpoint.js';

/** The live setting that overrides the per-connection inbound frame budget. */
export const CONNECT_FRAME_RATE_SETTING = 'connect-frame-rate';
const frameRateSchema = z.object({ perSecond: z.number().positive(), burst: z.number().int().positive() }).partial().strict();

export interface ConnectServiceOptions {
  config: ConnectConfig;
  logger: Logger;
  presence: PresenceRegistry;
  bus: PushBus;
  /**
   * Hot-reloadable settings (SETTINGS=consul follows Consul's KV store). This node
   * reads `connect-frame-rate`: {"perSecond": n, "burst": n}, either field
   * optional, laid over CONNECT_FRAMES_PER_SECOND and CONNECT_FRAME_BURST.
   */
  settings?: LiveSettingsSource;
  /**
   * The access-token verifier to use instead of the service's own (the all-in-one
   * passes one to edge, core and connect: one key set and one cache of verified
   * tokens per process, so a token is signature-checked once, not by each).
   */
  tokenVerifier?: AccessTokenVerifier;
}

export type RunningConnectService = RunningService & {
  /** This node's id on the push bus, and the prefix of its connection ids. */
  nodeId: string;
  /** Takes a WebSocket upgrade received by another server of this process (the all-in-one's edge) as if on /ws here. */
  acceptWebSocket: WebSocketEndpoint['acceptUpgrade'];
};

export async function startConnectService(options: ConnectServiceOptions): Promise<RunningConnectService> {
  const { config, logger, presence, bus } = options;
  const nodeId = config.CONNECT_NODE_ID;
  const metrics = new ConnectMetrics();
  registerPushBusMetrics(metrics.registry, bus, { nodeId });
  const authChannel = openChannel(config.AUTH_ADDRESS);
  const coreChannel = openChannel(config.CORE_ADDRESS);
  // The node's own service account, for the internal methods of core and auth.
  const credentials = serviceCredentialsFrom(config);
  const serviceToken = credentials && serviceTokenSourceFor(authChannel.channel, credentials);
  const deliveries = createServiceClient(internalV1.DeliveryServiceDefinition, coreChannel.channel, { serviceToken });
  const verifier =
    options.tokenVerifier ??
    new AccessTokenVerifier({
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      source: keyServiceJwks(authChannel),
    });
  const reporter = new DeliveryReporter({
    report: async (batch) => {
      await deliveries.reportDelivered({ deliveries: batch });
    },
    logger: logger.child({ component: 'delivery-reporter' }),
    metrics,
    flushIntervalMs: config.CONNECT_ACK_FLUSH_MS,
    batchSize: config.CONNECT_ACK_BATCH_SIZE,
    maxPending: config.CONNECT_ACK_BUFFER_MAX,
  });
  const frameRate = liveSetting(
    options.settings ?? new MemoryLiveSettings(),
    CONNECT_FRAME_RATE_SETTING,
    frameRateSchema,
    { perSecond: config.CONNECT_FRAMES_PER_SECOND, burst: config.CONNECT_FRAME_BURST },
    { logger: logger.child({ component: 'live-settings' }), merge: (fallback: FrameRate, override: Partial<FrameRate>): FrameRate => ({ ...fallback, ...override }) },
  );
  const hub = new ConnectionHub({
    nodeId,
    heartbeatIntervalMs: config.CONNECT_HEARTBEAT_INTERVAL_MS,
    authTimeoutMs: config.CONNECT_AUTH_TIMEOUT_MS,
    presence,
    logger,
    metrics,
    frameRate: frameRate.get,
    awaitedPerConnection: config.CONNECT_AWAITED_PER_CONNECTION,
    sessionCheck: authSessionCheck(authChannel, serviceToken),
  });
  const typing = new TypingForwarder(
    createServiceClient(internalV1.TypingServiceDefinition, coreChannel.channel, { serviceToken }),
    logger.child({ component: 'typing' }),
  );
  const dispatch = createDispatch({ hub, verifier, reporter, metrics, logger, typing });

  const grpc = createGrpcServer({ logger });
  grpc.addWith(
    connectServiceAuth(verifier),
    connectV1.ConnectServiceDefinition,
    connectService({
      hub,
      dispatch,
      forwarder: new AckForwarder({ nodeId, presence, bus, logger: logger.child({ component: 'ack-forwarder' }) }),
      typing,
      logger,
      maxStreamQueue: config.CONNECT_MAX_STREAM_QUEUE,
      maxFrameBytes: config.CONNECT_MAX_FRAME_BYTES,
    }),
  );

  let subscription: PushSubscription | undefined;
  let http: ServiceHttpServer | undefined;
  let websockets: WebSocketEndpoint | undefined;
  let grpcPort: number;
  const closeChannels = () => {
    authChannel.close();
    coreChannel.close();
  };
  try {
    // Consume before accepting anyone, so a device is routable only once its
    // node is listening on the bus.
    subscription = await consumePushes({ bus, hub, dispatch, metrics, logger });
    grpcPort = await grpc.listen(config.CONNECT_HOST, config.CONNECT_GRPC_PORT);
    http = await startServiceHttpServer(config.CONNECT_HOST, config.CONNECT_HTTP_PORT, {
      registries: [metrics.registry],
      readiness: [],
      isAccepting: () => hub.isAccepting,
    });
    websockets = serveWebSockets({
      server: http.server,
      hub,
      dispatch,
      verifier,
      logger,
      maxFrameBytes: config.CONNECT_MAX_FRAME_BYTES,
      maxBufferedBytes: config.CONNECT_MAX_BUFFERED_BYTES,
      allowedOrigins: config.CONNECT_ALLOWED_ORIGINS,
    });
  } catch (error) {
    await subscription?.close();
    grpc.forceShutdown();
    await http?.close();
    closeChannels();
    throw error;
  }

  const grpcAddress = `${config.CONNECT_HOST}:${grpcPort}`;
  const openedHttp = http;
  const openedWebsockets = websockets;
  const openedSubscription = subscription;
  logger.info({ nodeId, grpc: grpcAddress, websocket: `ws://${http.address}/ws` }, 'connect service listening');

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    const graceMs = config.CONNECT_DRAIN_GRACE_MS;
    // Order matters: no new connections, GoAway to every client and presence
    // gone, then the acks they sent reported, then the bus, then the servers.
    await hub.drain();
    await reporter.close();
    await openedSubscription.close();
    await Promise.all([
      openedWebsockets.close(graceMs),
      withGrace(grpc.shutdown(), graceMs, () => grpc.forceShutdown()),
    ]);
    await openedHttp.close();
    closeChannels();
    frameRate.stop();
    logger.info({ nodeId }, 'connect service stopped');
  };

  return {
    name: 'connect',
    localCalls: grpc.localCalls,
    nodeId,
    grpcAddress,
    httpAddress: http.address,
    acceptWebSocket: openedWebsockets.acceptUpgrade,
    metrics: metrics.registry,
    readiness: [],
    stop: () => (stopping ??= stop()),
  };
}

/** Waits for `work`, or runs `cut` after `graceMs` and waits a moment more. */
async function withGrace(work: Promise<void>, graceMs: number, cut: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const outcome = await Promise.race([work.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    cut();
    await work;
  }
}
