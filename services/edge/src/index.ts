// The edge service: the single public port in front of auth, core and connect.
// Native gRPC (HTTP/2), grpc-web (HTTP/1.1, binary and text), WebSocket upgrades
// and the ops endpoints all share it; see edge-server.ts for who answers what.
import type { AddressInfo } from 'node:net';
import {
  AccessTokenVerifier,
  type Logger,
  type RateLimiter,
  type ReadinessCheck,
  type RunningService,
} from '@im-mesh/platform';
import type { Registry } from 'prom-client';
import { Admission } from './admission/admission.js';
import { grpcJwksSource } from './admission/jwks-source.js';
import type { EdgeConfig } from './config.js';
import { createEdgeServers } from './edge-server.js';
import { createProtocolSniffer } from './front-door/protocol-sniffer.js';
import { CorsPolicy } from './http/cors.js';
import { EdgeMetrics } from './metrics/edge-metrics.js';
import { upstreamReadiness } from './routing/upstream-readiness.js';
import { UpstreamSessions } from './routing/upstream-sessions.js';
import { staticUpstreams, type Upstreams } from './routing/upstreams.js';

export { edgeConfigShape, loadEdgeConfig, type EdgeConfig } from './config.js';
export type { Upstreams } from './routing/upstreams.js';

export interface EdgeServiceOptions {
  config: EdgeConfig;
  logger: Logger;
  rateLimiter: RateLimiter;
  /** Upstream addresses; from AUTH_ADDRESS, CORE_ADDRESS, CONNECT_ADDRESS, CONNECT_WS_ADDRESS when omitted. */
  upstreams?: Upstreams;
  /** More registries to serve at /metrics (the all-in-one passes every service's). */
  extraMetrics?: Registry[];
  /** More checks for /readyz. */
  extraReadiness?: ReadinessCheck[];
}

export type RunningEdge = RunningService & {
  /** "http://host:port" of the public port. */
  url: string;
};

export async function startEdgeService(options: EdgeServiceOptions): Promise<RunningEdge> {
  const { config, logger } = options;
  const upstreams = staticUpstreams(
    options.upstreams ?? {
      auth: config.AUTH_ADDRESS,
      core: config.CORE_ADDRESS,
      connect: config.CONNECT_ADDRESS,
      connectWs: config.CONNECT_WS_ADDRESS,
    },
  );
  const metrics = new EdgeMetrics();
  const jwks = grpcJwksSource(() => upstreams('auth'));
  const verifier = new AccessTokenVerifier({ issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, source: jwks.source });
  const admission = new Admission({
    rateLimiter: options.rateLimiter,
    verifier,
    logger,
    limits: {
      perIp: { refillPerSecond: config.EDGE_RATE_LIMIT_PER_IP, capacity: config.EDGE_RATE_LIMIT_PER_IP_BURST },
      perUser: { refillPerSecond: config.EDGE_RATE_LIMIT_PER_USER, capacity: config.EDGE_RATE_LIMIT_PER_USER_BURST },
    },
  });
  const sessions = new UpstreamSessions(logger);
  const readiness = upstreamReadiness(upstreams);
  let accepting = true;
  const ops = {
    registries: [metrics.registry, ...(options.extraMetrics ?? [])],
    readiness: [...readiness, ...(options.extraReadiness ?? [])],
    isAccepting: () => accepting,
  };
  const servers = createEdgeServers(
    { admission, upstreams, sessions, metrics, logger, maxRequestBytes: config.EDGE_MAX_REQUEST_BYTES },
    new CorsPolicy(config.EDGE_CORS_ORIGINS),
    ops,
  );
  const sniffer = createProtocolSniffer({
    http2: (socket) => servers.http2.emit('connection', socket),
    http1: (socket) => servers.http1.emit('connection', socket),
  });

  await new Promise<void>((resolve, reject) => {
    sniffer.server.once('error', reject);
    sniffer.server.listen(config.EDGE_PORT, config.EDGE_HOST, () => {
      sniffer.server.off('error', reject);
      resolve();
    });
  });
  const address = `${config.EDGE_HOST}:${(sniffer.server.address() as AddressInfo).port}`;
  logger.info({ address }, 'edge listening (gRPC, grpc-web, WebSocket, ops)');

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    accepting = false;
    const closed = new Promise<void>((resolve) => sniffer.server.close(() => resolve()));
    // Ask politely: GOAWAY on HTTP/2 (streams in flight go on), no keep-alive on HTTP/1.1.
    for (const session of servers.http2Sessions) session.close();
    servers.http1.closeIdleConnections();
    const drained = async () => {
      while (sniffer.sockets.size > 0) {
        // HTTP/1.1 connections become idle as their responses finish; close them as they do.
        servers.http1.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await Promise.race([drained(), new Promise((resolve) => setTimeout(resolve, config.EDGE_DRAIN_MS))]);
    // Whatever still runs (Subscribe streams, WebSockets) is cut now; clients reconnect.
    for (const tunnel of servers.tunnels) {
      tunnel.client.destroy();
      tunnel.upstream.destroy();
    }
    for (const session of servers.http2Sessions) session.destroy();
    for (const socket of sniffer.sockets) socket.destroy();
    sessions.close();
    jwks.close();
    servers.http1.close();
    await closed;
    logger.info('edge stopped');
  };

  return {
    name: 'edge',
    grpcAddress: address,
    httpAddress: address,
    url: `http://${address}`,
    metrics: metrics.registry,
    readiness,
    stop: () => (stopping ??= stop()),
  };
}
