// Shared setup for the auth tests: a real auth service on free ports against a
// test database, real gRPC clients, and a client-side login secret exactly as an
// app would build it (RSA-OAEP SHA-256 over {"password", "nonce", "ts"}).
import { constants, publicEncrypt } from 'node:crypto';
import { authV1, internalV1 } from '@im-mesh/contracts';
import {
  createLogger,
  createServiceClient,
  MemoryEphemeralStore,
  MemoryRateLimiter,
  openChannel,
  serviceTokenSourceFor,
  type ConfigSource,
  type RunningService,
} from '@im-mesh/platform';
import { ClientError, Metadata, type Client } from 'nice-grpc';
import pg from 'pg';
import { loadAuthConfig, startAuthService } from '../src/index.js';

export interface RunningAuth {
  service: RunningService;
  /** Calls take a per-call `deadline` (the default is 5 s). */
  auth: ReturnType<typeof createServiceClient<typeof authV1.AuthServiceDefinition>>;
  keys: Client<typeof internalV1.KeyServiceDefinition>;
  directory: Client<typeof internalV1.UserDirectoryServiceDefinition>;
  close(): Promise<void>;
}

/** The internal service account every harness-started auth knows. */
export const HARNESS_SERVICE = { clientId: 'harness-internal', clientSecret: 'harness-internal-secret-of-at-least-32-chars' } as const;

export interface StartAuthOptions {
  /** Capture log lines here (at trace level) instead of discarding them. */
  logDestination?: NodeJS.WritableStream;
}

/** Starts auth on port 0 against `databaseUrl` with default settings plus `overrides`. */
export async function startAuth(databaseUrl: string, overrides: ConfigSource = {}, options: StartAuthOptions = {}): Promise<RunningAuth> {
  // The service account the harness's internal clients (the user directory) call with, as core would.
  const accounts = [overrides['AUTH_SERVICE_ACCOUNTS'], `${HARNESS_SERVICE.clientId}:service:${HARNESS_SERVICE.clientSecret}`].filter(Boolean).join(',');
  const config = loadAuthConfig({ AUTH_GRPC_PORT: '0', AUTH_HTTP_PORT: '0', ...overrides, AUTH_SERVICE_ACCOUNTS: accounts });
  const nonces = new MemoryEphemeralStore();
  const rateLimiter = new MemoryRateLimiter();
  const logger = options.logDestination
    ? createLogger({ service: 'auth', level: 'trace', destination: options.logDestination })
    : createLogger({ service: 'auth', level: 'silent' });
  const service = await startAuthService({ config, logger, databaseUrl, nonces, rateLimiter });
  const channel = openChannel(service.grpcAddress);
  return {
    service,
    auth: createServiceClient(authV1.AuthServiceDefinition, channel.channel),
    keys: createServiceClient(internalV1.KeyServiceDefinition, channel.channel),
    directory: createServiceClient(internalV1.UserDirectoryServiceDefinition, channel.channel, {
      serviceToken: serviceTokenSourceFor(channel.channel, HARNESS_SERVICE),
    }),
    async close() {
      channel.close();
      await service.stop();
      await nonces.close();
      await rateLimiter.close();
    },
  };
}

export interface SecretOptions {
  /** The `ts` inside the payload; now by default. */
  ts?: number;
  /** Use this nonce instead of asking for a fresh one. */
  nonce?: string;
}

/** Asks GetLoginKey for `deviceId` and encrypts `password` with the nonce it hands out. */
export async function loginSecret(
  auth: RunningAuth['auth'],
  deviceId: string,
  password: string,
  options: SecretOptions = {},
): Promise<authV1.EncryptedSecret> {
  const offer = await auth.getLoginKey({ deviceId });
  const payload = JSON.stringify({ password, nonce: options.nonce ?? offer.nonce, ts: options.ts ?? Date.now() });
  return { kid: offer.kid, ciphertext: encryptFor(offer.publicKeyPem, payload) };
}

export function encryptFor(publicKeyPem: string, plaintext: string): Uint8Array {
  return publicEncrypt(
    { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(plaintext, 'utf8'),
  );
}

export async function register(auth: RunningAuth['auth'], username: string, password: string, deviceId = 'laptop-1') {
  const secret = await loginSecret(auth, deviceId, password);
  return auth.register({ username, password: secret, deviceId, displayName: '' });
}

export async function login(auth: RunningAuth['auth'], username: string, password: string, deviceId = 'laptop-1') {
  const secret = await loginSecret(auth, deviceId, password);
  return auth.login({ username, password: secret, deviceId, devicePlatform: 'web' });
}

export function bearer(accessToken: string): { metadata: Metadata } {
  return { metadata: Metadata({ authorization: `Bearer ${accessToken}` }) };
}

/** The gRPC status code and message a call failed with; fails the test if it succeeded. */
export async function failureOf(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ClientError) return { code: error.code, message: error.details };
    throw error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Runs one query straight against the test database, to see what auth stored. */
export async function queryDb<Row>(databaseUrl: string, text: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as Row[];
  } finally {
    await client.end();
  }
}
