// WebSocket through the edge: the upgrade request on /ws is replayed byte for byte
// to a connect node's HTTP address (plus X-Forwarded-For; a node that refuses the
// connection is skipped for the next one before anything is sent), then both sockets are
// piped together. The edge never parses WebSocket frames; the connect node does the
// handshake, the auth (token in Sec-WebSocket-Protocol) and the protocol. Headers
// are never logged here, because the token rides in one of them.
//
// When the connect node runs in the same process (the all-in-one), the upgrade is
// handed to it instead (handOverWebSocket): the client's socket becomes the
// connect node's, so each frame is written once, not once to the tunnel and again
// by the edge (a group push is one write per member: in bench/ the tunnel cost the
// all-in-one about 15% of its CPU during a fan-out).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@im-mesh/platform';
import { forwardedFor } from '../admission/admission.js';
import type { EdgeMetrics } from '../metrics/edge-metrics.js';

export const WEBSOCKET_PATH = '/ws';

/** Open tunnels (and sockets handed to an in-process connect node, without upstream), so shutdown can close them. */
export type TunnelSet = Set<{ client: Duplex; upstream?: Socket }>;

/**
 * A connect node in this process taking an upgrade request as its own HTTP
 * server would (it does the handshake, auth and protocol on `socket`).
 */
export type LocalWebSocketUpstream = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Gives the upgrade to the in-process connect node. X-Forwarded-For is set as
 * the tunnel would replay it; the socket stays in `tunnels` until it closes,
 * so the edge's stop can cut it like a tunnel.
 */
export function handOverWebSocket(
  deps: { metrics: EdgeMetrics; tunnels: TunnelSet },
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  local: LocalWebSocketUpstream,
): void {
  const record = deps.metrics.callStarted('websocket');
  const tunnel = { client };
  deps.tunnels.add(tunnel);
  client.once('close', () => {
    deps.tunnels.delete(tunnel);
    record.finish(WEBSOCKET_PATH, 'CLOSED');
  });
  req.headers['x-forwarded-for'] = forwardedFor(req.headers['x-forwarded-for'], req.socket.remoteAddress);
  local(req, client, head);
}

export async function tunnelWebSocket(
  deps: { metrics: EdgeMetrics; logger: Logger; tunnels: TunnelSet },
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  /** Connects to a connect node's HTTP port (an instance whose circuit lets calls through). */
  openUpstream: () => Promise<Socket>,
): Promise<void> {
  const record = deps.metrics.callStarted('websocket');
  let upstream: Socket;
  try {
    upstream = await openUpstream();
  } catch (error) {
    deps.metrics.upstreamError('connectWs');
    deps.logger.warn({ err: error }, 'WebSocket upstream unreachable');
    record.finish(WEBSOCKET_PATH, 'UNAVAILABLE');
    if (client.writable) client.end(httpError(502, 'Bad Gateway', 'The connection service is unreachable right now. Try again shortly.'));
    else client.destroy();
    return;
  }
  if (client.destroyed) {
    // The client left (or the edge stopped) while a node was chosen.
    record.finish(WEBSOCKET_PATH, 'CANCELLED');
    upstream.destroy();
    return;
  }
  const tunnel = { client, upstream };
  deps.tunnels.add(tunnel);

  const closeBoth = () => {
    deps.tunnels.delete(tunnel);
    record.finish(WEBSOCKET_PATH, 'CLOSED');
    upstream.destroy();
    client.destroy();
  };
  upstream.setNoDelay(true);
  upstream.write(replayedRequest(req));
  if (head.length > 0) upstream.write(head);
  upstream.pipe(client);
  client.pipe(upstream);
  upstream.on('error', closeBoth);
  client.on('error', closeBoth);
  upstream.on('close', closeBoth);
  client.on('close', closeBoth);
}

/** The request line and headers as the client sent them, with the client added to X-Forwarded-For. */
function replayedRequest(req: IncomingMessage): string {
  let out = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? '';
    if (name.toLowerCase() === 'x-forwarded-for') continue;
    out += `${name}: ${req.rawHeaders[i + 1] ?? ''}\r\n`;
  }
  out += `X-Forwarded-For: ${forwardedFor(req.headers['x-forwarded-for'], req.socket.remoteAddress)}\r\n\r\n`;
  return out;
}

/** A minimal HTTP/1.1 error for a socket that never got upgraded. */
export function httpError(status: number, reason: string, message: string, extra: Record<string, string> = {}): string {
  const body = `${message}\n`;
  const headers = Object.entries({ 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', ...extra })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${reason}\r\n${headers}\r\n${body}`;
}
