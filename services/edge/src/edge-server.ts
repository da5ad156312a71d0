// The edge's request handling on its one port: HTTP/1.1 requests (grpc-web, CORS
// preflight, WebSocket upgrade, ops endpoints) and HTTP/2 gRPC streams.
import { createServer as createHttp1Server, type IncomingMessage, type Server as Http1Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { handleOpsRequest, type OpsEndpoints } from '@im-mesh/platform';
import { clientAddress } from './admission/admission.js';
import type { CallContext } from './grpc/call-context.js';
import { proxyNativeGrpc } from './grpc/native-grpc-proxy.js';
import { bridgeGrpcWeb, isGrpcWebRequest } from './grpc-web/grpc-web-bridge.js';
import type { CorsPolicy } from './http/cors.js';
import { httpError, tunnelWebSocket, WEBSOCKET_PATH, type TunnelSet } from './http/websocket-tunnel.js';

export interface EdgeServers {
  http1: Http1Server;
  http2: Http2Server;
  http2Sessions: Set<Http2Session>;
  tunnels: TunnelSet;
}

export function createEdgeServers(context: CallContext, cors: CorsPolicy, ops: OpsEndpoints): EdgeServers {
  const tunnels: TunnelSet = new Set();

  const http2 = createHttp2Server({ settings: { maxConcurrentStreams: 1000 } });
  const http2Sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    http2Sessions.add(session);
    session.once('close', () => http2Sessions.delete(session));
    session.on('error', (error) => context.logger.debug({ err: error }, 'client HTTP/2 session failed'));
  });
  http2.on('stream', (stream, headers) => proxyNativeGrpc(context, stream, headers));

  const http1 = createHttp1Server((req, res) => {
    void answerHttp1(context, cors, ops, req, res).catch((error: unknown) => {
      context.logger.error({ err: error, path: pathOf(req) }, 'edge request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal error"}');
    });
  });
  http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrade(context, tunnels, req, socket, head);
  });
  http1.on('clientError', (_error, socket: Duplex) => {
    if (socket.writable) socket.end(httpError(400, 'Bad Request', 'The request could not be parsed.'));
  });

  return { http1, http2, http2Sessions, tunnels };
}

async function answerHttp1(context: CallContext, cors: CorsPolicy, ops: OpsEndpoints, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = pathOf(req);
  // Probes come first and are never rate limited: a flood from a shared address must
  // not make the load balancer think the edge is down.
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') {
    await handleOpsRequest(ops, req, res);
    return;
  }
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
  if (socket.destroyed) return; // The client left while the limiter answered.
  tunnelWebSocket({ metrics: context.metrics, logger: context.logger, tunnels }, req, socket, head, context.upstreams('connectWs'));
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}
