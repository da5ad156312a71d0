// The edge service: the single public port in front of auth, core and connect.
// Native gRPC (HTTP/2), grpc-web (HTTP/1.1, binary and text), WebSocket upgrades
// and the ops endpoints all share it; see edge-server.ts for who answers what.
import type { AddressInfo, Socket } from 'node:net';
import {
  AccessTokenVerifier,
  liveSetting,
  MemoryLiveSettings,
  type LiveSettingsSource,
  type HttpHandler,
  type Logger,
  type RateLimiter,
  type ReadinessCheck,
  type RunningService,
  type ServiceRegistry,
} from '@im-mesh/platform';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { Admission, type AdmissionLimits } from './admission/admission.js';
import { grpcJwksSource } from './admission/jwks-source.js';
import type { EdgeConfig } from './config.js';
import { createEdgeServers } from './edge-server.js';
import type { LocalCallUpstreams } from './grpc/call-context.js';
import { createProtocolSniffer } from './front-door/protocol-sniffer.js';
import { CorsPolicy } from './http/cors.js';
import type { LocalWebSocketUpstream } from './http/websocket-tunnel.js';
import { EdgeMetrics } from './metrics/edge-metrics.js';
import { upstreamReadiness } from './routing/upstream-readiness.js';
import { UpstreamRouter } from './routing/upstream-router.js';
import { UpstreamSessions } from './routing/upstream-sessions.js';
import { staticUpstreamRegistry, type Upstreams } from './routing/upstreams.js';

export { edgeConfigShape, loadEdgeConfig, type EdgeConfig } from './config.js';
export { EDGE_REGISTRY_SERVICES, type Upstreams } from './routing/upstreams.js';
export type { LocalWebSocketUpstream } from './http/websocket-tunnel.js';
export type { LocalCallUpstreams } from './grpc/call-context.js';

/**
 * The live setting that overrides the edge's rate limits, e.g.
 * `{"perIp": {"refillPerSecond": 50, "capacity": 100}, "perUser": {"capacity": 20}}`;
 * any field may be left out and keeps its EDGE_RATE_LIMIT_* value.
 */
export const EDGE_RATE_LIMITS_SETTING = 'edge-rate-limits';
const bucketOverride = z.object({ refillPerSecond: z.number().positive(), capacity: z.number().int().positive() }).partial().strict();
const rateLimitsOverrideSchema = z.object({ perIp: bucketOverride, perUser: bucketOverride }).partial().strict();

export interface EdgeServiceOptions {
  config: EdgeConfig;
  logger: Logger;
  rateLimiter: RateLimiter;
  /**
   * Where the upstream instances are, followed live (static or Consul). The edge
   * watches the services named in EDGE_REGISTRY_SERVICES and leaves the registry
   * open on stop (its owner closes it). Takes precedence over `upstreams`.
   */
  registry?: ServiceRegistry;
  /**
   * Fixed upstream addresses (comma-separated lists allowed), when there is no
   * registry; from AUTH_ADDRESS, CORE_ADDRESS, CONNECT_ADDRESS, CONNECT_WS_ADDRESS
   * when omitted too.
   */
  upstreams?: Upstreams;
  /** More registries to serve at /metrics (the all-in-one passes every service's). */
  extraMetrics?: Registry[];
  /** More checks for /readyz. */
  extraReadiness?: ReadinessCheck[];
  /** Plain HTTP handlers served on the public port (the all-in-one's local blob URLs under /blobs/). */
  httpHandlers?: HttpHandler[];
  /** Hot-reloadable settings; the edge follows EDGE_RATE_LIMITS_SETTING. In-process (fixed) when omitted. */
  settings?: LiveSettingsSource;
  /**
   * A connect node in the same process (the all-in-one): WebSocket upgrades on
   * /ws are handed to it after the edge's own checks (path, per-IP limit,
   * draining) instead of tunnelled to the `connectWs` address, so frames are
   * written once. gRPC goes to the upstream addresses unless `localCalls` serves it.
   */
  localWebSockets?: LocalWebSocketUpstream;
  /**
   * Upstream services in the same process (the all-in-one): unary gRPC and
   * grpc-web calls routed to them, after the edge's own checks, run their
   * handlers in-process instead of crossing a loopback HTTP/2 connection.
   * Streaming calls, and requests compressed by the client, still go over gRPC.
   */
  localCalls?: LocalCallUpstreams;
  /**
   * The access-token verifier to use instead of the service's own (the all-in-one
   * passes one to edge, core and connect: one key set and one cache of verified
   * tokens per process, so a token is signature-checked once, not by each).
   */
  tokenVerifier?: AccessTokenVerifier;
}

export type RunningEdge = RunningService & {
  /** "http://host:port" of the public port. */
  url: string;
  /**
   * The first half of stop(): closes the port, sends GOAWAY on HTTP/2 and refuses
   * new calls and tunnels, while those already open keep flowing. The all-in-one
   * calls it before stopping connect, so connect's GoAway still reaches clients
   * through them; stop() then only waits for them to end.
   */
  stopAccepting(): Promise<void>;
};

export async function startEdgeService(options: EdgeServiceOptions): Promise<RunningEdge> {
  const { config, logger } = options;
  const registry =
    options.registry ??
    staticUpstreamRegistry(
      options.upstreams ?? {
        auth: config.AUTH_ADDRESS,
        core: config.CORE_ADDRESS,
        connect: config.CONNECT_ADDRESS,
        connectWs: config.CONNECT_WS_ADDRESS,
      },
    );
  // A registry made here from fixed addresses is closed on stop; one passed in belongs to its owner.
  const ownsRegistry = options.registry === undefined;
  const metrics = new EdgeMetrics();
  const sessions = new UpstreamSessions(logger, {
    connectTimeoutMs: config.EDGE_UPSTREAM_CONNECT_TIMEOUT_MS,
    pingIntervalMs: config.EDGE_UPSTREAM_PING_INTERVAL_MS,
    pingTimeoutMs: config.EDGE_UPSTREAM_PING_TIMEOUT_MS,
  });
  const router = new UpstreamRouter({
    registry,
    sessions,
    metrics,
    logger,
    circuit: { failures: config.EDGE_CIRCUIT_FAILURES, openMs: config.EDGE_CIRCUIT_OPEN_MS },
    connectTimeoutMs: config.EDGE_UPSTREAM_CONNECT_TIMEOUT_MS,
  });
  const authPool = router.pool('auth');
  const jwks = grpcJwksSource({ pick: () => authPool.pickAddress(), serves: (address) => authPool.serves(address) });
  const verifier =
    options.tokenVerifier ?? new AccessTokenVerifier({ issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, source: jwks.source });
  const limits = liveSetting(
    options.settings ?? new MemoryLiveSettings(),
    EDGE_RATE_LIMITS_SETTING,
    rateLimitsOverrideSchema,
    {
      perIp: { refillPerSecond: config.EDGE_RATE_LIMIT_PER_IP, capacity: config.EDGE_RATE_LIMIT_PER_IP_BURST },
      perUser: { refillPerSecond: config.EDGE_RATE_LIMIT_PER_USER, capacity: config.EDGE_RATE_LIMIT_PER_USER_BURST },
    },
    {
      logger: logger.child({ component: 'live-settings' }),
      merge: (fallback: AdmissionLimits, override: z.infer<typeof rateLimitsOverrideSchema>): AdmissionLimits => ({
        perIp: { ...fallback.perIp, ...override.perIp },
        perUser: { ...fallback.perUser, ...override.perUser },
      }),
    },
  );
  const admission = new Admission({
    rateLimiter: options.rateLimiter,
    verifier,
    logger,
    limits: limits.get,
  });
  const readiness = upstreamReadiness((name) => router.pool(name));
  let accepting = true;
  const isAccepting = () => accepting;
  const ops = {
    registries: [metrics.registry, ...(options.extraMetrics ?? [])],
    readiness: [...readiness, ...(options.extraReadiness ?? [])],
    isAccepting,
  };
  const servers = createEdgeServers(
    {
      admission,
      router,
      metrics,
      logger,
      maxRequestBytes: config.EDGE_MAX_REQUEST_BYTES,
      isAccepting,
      ...(options.localWebSockets && { localWebSockets: options.localWebSockets }),
      ...(options.localCalls && { localCalls: options.localCalls }),
    },
    new CorsPolicy(config.EDGE_CORS_ORIGINS),
    ops,
    { idleTimeoutMs: config.EDGE_IDLE_TIMEOUT_MS },
    options.httpHandlers,
  );
  // A connection accepted just before the port closed, still being sniffed, is
  // refused rather than handed to a server that is draining.
  const handOver = (server: { emit(event: 'connection', socket: Socket): boolean }) => (socket: Socket) => {
    if (accepting) server.emit('connection', socket);
    else socket.destroy();
  };
  const sniffer = createProtocolSniffer(
    { http2: handOver(servers.http2), http1: handOver(servers.http1) },
    { maxConnectionsPerIp: config.EDGE_MAX_CONNECTIONS_PER_IP },
  );

  const releaseRouting = async () => {
    router.close();
    jwks.close();
    if (ownsRegistry) await registry.close();
  };
  try {
    await router.start();
    await new Promise<void>((resolve, reject) => {
      sniffer.server.once('error', reject);
      sniffer.server.listen(config.EDGE_PORT, config.EDGE_HOST, () => {
        sniffer.server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await releaseRouting();
    throw error;
  }
  const address = `${config.EDGE_HOST}:${(sniffer.server.address() as AddressInfo).port}`;
  logger.info({ address }, 'edge listening (gRPC, grpc-web, WebSocket, ops)');

  let listenerClosed: Promise<void> | undefined;
  const stopAccepting = async () => {
    if (listenerClosed) return;
    accepting = false;
    // The callback runs once every accepted socket has closed, which stop() waits for.
    listenerClosed = new Promise<void>((resolve) => sniffer.server.close(() => resolve()));
    // Ask politely: GOAWAY on HTTP/2 (streams in flight go on), idle HTTP/1.1 sockets
    // closed (busy ones answer `Connection: close` from now on, see edge-server.ts).
    for (const session of servers.http2Sessions) session.close();
    servers.http1.closeIdleConnections();
    logger.info('edge no longer accepting; open streams and tunnels go on');
  };

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    await stopAccepting();
    // Wait for what is still open to end on its own, checking often so stop()
    // returns as soon as the last stream is gone; cut the rest at the deadline.
    const deadline = Date.now() + config.EDGE_DRAIN_MS;
    while (sniffer.sockets.size > 0 && Date.now() < deadline) {
      // HTTP/1.1 connections become idle as their responses finish; close them as they do.
      servers.http1.closeIdleConnections();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // Whatever still runs (Subscribe streams, WebSockets) is cut now; clients reconnect.
    for (const tunnel of servers.tunnels) {
      tunnel.client.destroy();
      tunnel.upstream?.destroy();
    }
    for (const session of servers.http2Sessions) session.destroy();
    for (const socket of sniffer.sockets) socket.destroy();
    await releaseRouting();
    servers.http1.close();
    await listenerClosed;
    limits.stop();
    logger.info('edge stopped');
  };

  return {
    name: 'edge',
    grpcAddress: address,
    httpAddress: address,
    url: `http://${address}`,
    metrics: metrics.registry,
    readiness,
    stopAccepting,
    stop: () => (stopping ??= stop()),
  };
}
