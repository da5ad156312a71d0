// The edge's configuration: one public port, where the upstream services are,
// who may call from a browser, and how fast. Keys are environment variable names.
import { env, loadConfig, type ConfigSource, tokenAudienceConfig } from '@im-mesh/platform';
import { z } from 'zod';

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/;

/** One "host:port" or a comma-separated list of them, as a list. */
function addressList(fallback: string) {
  return z
    .string()
    .default(fallback)
    .transform((value) => value.split(',').map((address) => address.trim()).filter(Boolean))
    .refine((list) => list.length > 0 && list.every((address) => HOST_PORT.test(address)), {
      message: 'must be host:port, or several separated by commas',
    });
}

export const edgeConfigShape = {
  EDGE_HOST: env.host('127.0.0.1'),
  EDGE_PORT: env.port(9191),
  /**
   * Upstream instances when no service registry is given: "host:port", or several
   * separated by commas, which share the calls round-robin.
   */
  AUTH_ADDRESS: addressList('127.0.0.1:7001'),
  CORE_ADDRESS: addressList('127.0.0.1:7002'),
  CONNECT_ADDRESS: addressList('127.0.0.1:7003'),
  /** The connect nodes' HTTP addresses (CONNECT_HTTP_PORT), which serve the WebSocket at /ws. */
  CONNECT_WS_ADDRESS: addressList('127.0.0.1:7083'),
  ...tokenAudienceConfig,
  /** Browser origins allowed to call grpc-web; '*' allows any (tokens travel in headers, not cookies). */
  EDGE_CORS_ORIGINS: env.list(['*']),
  /** Requests per second per client IP, and the burst on top of a quiet period. */
  EDGE_RATE_LIMIT_PER_IP: env.int(200, 1),
  EDGE_RATE_LIMIT_PER_IP_BURST: env.int(400, 1),
  /** Requests per second per authenticated user, and the burst. */
  EDGE_RATE_LIMIT_PER_USER: env.int(100, 1),
  EDGE_RATE_LIMIT_PER_USER_BURST: env.int(200, 1),
  /** Largest grpc-web request body, in bytes (after base64 decoding). */
  EDGE_MAX_REQUEST_BYTES: env.int(4 * 1024 * 1024 + 5, 5),
  /** How long stop() lets streams in flight finish before cutting them, in ms. */
  EDGE_DRAIN_MS: env.millis(5_000),
  /**
   * A client connection with no call in progress is closed after this long, in ms:
   * HTTP/2 sessions with no open stream (GOAWAY). HTTP/1.1 keep-alive sockets and
   * half-sent request headers get the shorter of this and Node's defaults (5 s, 60 s).
   */
  EDGE_IDLE_TIMEOUT_MS: env.millis(5 * 60_000),
  /** Open connections one client IP may hold; more are closed as soon as they arrive. */
  EDGE_MAX_CONNECTIONS_PER_IP: env.int(1000, 1),
  /** How long opening an HTTP/2 session to an upstream may take (TCP and its SETTINGS), in ms. */
  EDGE_UPSTREAM_CONNECT_TIMEOUT_MS: env.millis(5_000),
  /** An upstream session nothing was heard on for this long is pinged, in ms. */
  EDGE_UPSTREAM_PING_INTERVAL_MS: env.millis(30_000),
  /** A ping unanswered this long means the upstream is gone: its session is closed, in ms. */
  EDGE_UPSTREAM_PING_TIMEOUT_MS: env.millis(10_000),
  /** Consecutive transport failures (refused, reset, timed out) that open an upstream instance's circuit. */
  EDGE_CIRCUIT_FAILURES: env.int(5, 1),
  /** How long an open circuit keeps calls away from its instance before one trial call, in ms. */
  EDGE_CIRCUIT_OPEN_MS: env.millis(10_000),
  LOG_LEVEL: env.logLevel(),
};

/** Validates the edge's configuration from `source` (process.env by default). */
export function loadEdgeConfig(source?: ConfigSource) {
  return loadConfig(edgeConfigShape, source);
}

export type EdgeConfig = ReturnType<typeof loadEdgeConfig>;
