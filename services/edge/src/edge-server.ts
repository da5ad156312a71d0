// The edge's request handling on its one port: HTTP/1.1 requests (grpc-web, CORS
// preflight, WebSocket upgrade, ops endpoints) and HTTP/2 gRPC streams.
import { createServer as createHttp1Server, type IncomingMessage, type Server as Http1Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { handleOpsRequest, type HttpHandler, type OpsEndpoints } from '@im-mesh/platform';
import { clientAddress } from './admission/admission.js';
import { closeWhenIdle, http1IdleOptions, trackHttp1Connections } from './front-door/idle-connections.js';
import type { CallContext } from './grpc/call-context.js';
import { proxyNativeGrpc } from './grpc/native-grpc-proxy.js';
import { bridgeGrpcWeb, isGrpcWebRequest } from './grpc-web/grpc-web-bridge.js';
import type { CorsPolicy } from './http/cors.js';
import { handOverWebSocket, httpError, tunnelWebSocket, WEBSOCKET_PATH, type TunnelSet } from './http/websocket-tunnel.js';

export interface EdgeServers {
  http1: Http1Server;
  http2: Http2Server;
  http2Sessions: Set<Http2Session>;
  tunnels: TunnelSet;
}

export function createEdgeServers(
  context: CallContext,
  cors: CorsPolicy,
  ops: OpsEndpoints,
  limits: { idleTimeoutMs: number },
  /** Plain HTTP handlers tried after the probes (the all-in-one's local blob URLs). */
  handlers: HttpHandler[] = [],
): EdgeServers {
  const tunnels: TunnelSet = new Set();

  const http2 = createHttp2Server({ settings: { maxConcurrentStreams: 1000 } });
  const http2Sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    http2Sessions.add(session);
    closeWhenIdle(session, limits.idleTimeoutMs);
    session.once('close', () => http2Sessions.delete(session));
    session.on('error', (error) => context.logger.debug({ err: error }, 'client HTTP/2 session failed'));
  });
  http2.on('stream', (stream, headers) => proxyNativeGrpc(context, stream, headers));

  const http1 = createHttp1Server(http1IdleOptions(limits.idleTimeoutMs), (req, res) => {
    // While draining, a keep-alive connection carries no further request.
    if (!context.isAccepting()) res.setHeader('connection', 'close');
    void answerHttp1(context, cors, ops, handlers, req, res).catch((error: unknown) => {
      context.logger.error({ err: error, path: pathOf(req) }, 'edge request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal error"}');
    });
  });
  http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrade(context, tunnels, req, socket, head).catch((error: unknown) => {
      // A surprise here must not become an unhandled rejection, which ends the process.
      context.logger.error({ err: error, path: pathOf(req) }, 'WebSocket upgrade failed');
      if (socket.writable) socket.end(httpError(500, 'Internal Server Error', 'The edge could not open this connection. Try again.'));
      else socket.destroy();
    });
  });
  http1.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const answer =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? httpError(408, 'Request Timeout', 'The request headers did not arrive in time.')
        : httpError(400, 'Bad Request', 'The request could not be parsed.');
    // Destroyed once the answer is out, so a client that never closes its side holds no socket.
    if (socket.writable) socket.end(answer, () => socket.destroy());
    else socket.destroy();
  });

  trackHttp1Connections(http1);

  return { http1, http2, http2Sessions, tunnels };
}

async function answerHttp1(
  context: CallContext,
  cors: CorsPolicy,
  ops: OpsEndpoints,
  handlers: HttpHandler[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = pathOf(req);
  // Probes come first and are never rate limited: a flood from a shared address must
  // not make the load balancer think the edge is down.
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') {
    await handleOpsRequest(ops, req, res);
    return;
  }
  // Blob URLs carry their own signature; they are not gRPC calls and skip admission.
  for (const handle of handlers) if (await handle(req, res)) return;
  if (req.method === 'OPTIONS') {
    const limited = await context.admission.limitAddress(clientAddress(req.socket.remoteAddress));
    if (limited) {
      res.writeHead(429, { 'content-type': 'text/plain; charset=utf-8', ...cors.responseHeaders(req) }).end(`${limited.message}\n`);
      return;
    }
    cors.answerPreflight(req, res);
    return;
  }
  if (isGrpcWebRequest(req)) {
    await bridgeGrpcWeb(context, req, res, cors.responseHeaders(req));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json', ...cors.responseHeaders(req) }).end('{"error":"not found"}');
}

/** No new tunnels while the edge drains: the client reconnects, through another edge if there is one. */
const DRAINING_UPGRADE = httpError(503, 'Service Unavailable', 'The edge is shutting down. Reconnect in a moment.');

async function upgrade(context: CallContext, tunnels: TunnelSet, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  socket.on('error', () => {
    // The tunnel (or the close below) handles the socket; a reset needs no report.
  });
  if (pathOf(req) !== WEBSOCKET_PATH || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    socket.end(httpError(404, 'Not Found', `WebSocket connections are served at ${WEBSOCKET_PATH} only.`));
    return;
  }
  const limited = await context.admission.limitAddress(clientAddress(req.socket.remoteAddress));
  if (limited) {
    context.metrics.callStarted('websocket').finish(WEBSOCKET_PATH, 'RESOURCE_EXHAUSTED');
    socket.end(httpError(429, 'Too Many Requests', limited.message));
    return;
  }
  // The client left, or the edge began draining, while the limiter answered.
  if (socket.destroyed) return;
  if (!context.isAccepting()) {
    socket.end(DRAINING_UPGRADE);
    return;
  }
  if (context.localWebSockets) {
    handOverWebSocket({ metrics: context.metrics, tunnels }, req, socket, head, context.localWebSockets);
    return;
  }
  await tunnelWebSocket({ metrics: context.metrics, logger: context.logger, tunnels }, req, socket, head, () => context.router.openTunnel());
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}
