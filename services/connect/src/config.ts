// Configuration of the connect service. Keys are environment variable names; every
// value is validated at start and a bad one fails with a message naming it.
import { hostname } from 'node:os';
import { env, loadConfig, serviceCredentialsConfig, type ConfigSource, tokenAudienceConfig } from '@im-mesh/platform';

/** Node ids prefix connection ids and name bus queues, so they stay to a safe alphabet. */
const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/** `connect-<hostname>-<pid>`, with anything outside the node-id alphabet replaced by '-'. */
export function defaultNodeId(): string {
  return `connect-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 100);
}

export const connectConfigShape = {
  CONNECT_HOST: env.host('127.0.0.1'),
  CONNECT_GRPC_PORT: env.port(7003),
  /** Serves /healthz, /readyz, /metrics and the WebSocket endpoint /ws. */
  CONNECT_HTTP_PORT: env.port(7083),
  /**
   * This node's name on the push bus and the prefix of its connection ids
   * (`<node>.<uuid>`), which is how a router finds the node holding a connection.
   */
  CONNECT_NODE_ID: env
    .string(defaultNodeId())
    .refine((value) => NODE_ID_PATTERN.test(value), 'must be 1-100 letters, digits, "-" or "_" (no dots)'),
  AUTH_ADDRESS: env.host('127.0.0.1:7001'),
  CORE_ADDRESS: env.host('127.0.0.1:7002'),
  ...tokenAudienceConfig,
  /** The node's service account (SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET), for core's and auth's internal methods. */
  ...serviceCredentialsConfig,
  /** Clients ping at least this often; silence for three intervals closes the connection. */
  CONNECT_HEARTBEAT_INTERVAL_MS: env.millis(25_000, 100),
  /** Without a token in the handshake, the auth frame must arrive within this time. */
  CONNECT_AUTH_TIMEOUT_MS: env.millis(5_000, 50),
  /** Largest ClientFrame on a WebSocket, in bytes; larger ones close the socket with 1009. */
  CONNECT_MAX_FRAME_BYTES: env.int(65_536, 256, 16 * 1024 * 1024),
  /** A WebSocket whose unsent data exceeds this many bytes is a slow reader and gets closed (1013). */
  CONNECT_MAX_BUFFERED_BYTES: env.int(1024 * 1024, 1024),
  /** Frames a gRPC stream may have queued for its client before it ends with RESOURCE_EXHAUSTED. */
  CONNECT_MAX_STREAM_QUEUE: env.int(1_024, 8),
  /** Inbound frames per second allowed per connection, and the burst on top of it. */
  CONNECT_FRAMES_PER_SECOND: env.int(50, 1),
  CONNECT_FRAME_BURST: env.int(100, 1),
  /**
   * Browser origins allowed to open a WebSocket (exact match, e.g. https://app.example.com);
   * empty or '*' allows all. Requests without Origin are native clients and always allowed.
   */
  CONNECT_ALLOWED_ORIGINS: env.list([]),
  /** How often collected acks are reported to core, in ms; a batch of CONNECT_ACK_BATCH_SIZE goes at once. */
  CONNECT_ACK_FLUSH_MS: env.millis(100, 5),
  CONNECT_ACK_BATCH_SIZE: env.int(500, 1, 10_000),
  /** Delivery watermarks kept while core is unreachable; beyond it the oldest are dropped (sync repairs them). */
  CONNECT_ACK_BUFFER_MAX: env.int(100_000, 100),
  /** Pushed messages remembered per connection while awaiting the client's ack; the oldest are forgotten. */
  CONNECT_AWAITED_PER_CONNECTION: env.int(10_000, 16),
  /** How long stop() lets streams and sockets finish after GoAway before cutting them, in ms. */
  CONNECT_DRAIN_GRACE_MS: env.millis(2_000, 10),
  LOG_LEVEL: env.logLevel(),
};

/** Validates the connect configuration from `source` (process.env by default). Throws ConfigError. */
export function loadConnectConfig(source?: ConfigSource) {
  return loadConfig(connectConfigShape, source);
}

export type ConnectConfig = ReturnType<typeof loadConnectConfig>;
