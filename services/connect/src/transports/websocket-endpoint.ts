// The WebSocket endpoint (/ws) on the service's HTTP server. The handshake is
// checked before anything is upgraded: the path, no token in the URL, the Origin
// allow-list, the `im.v1` subprotocol and, when the client offers one, the access
// token carried as the subprotocol `im.auth.<jwt>` (a bad one gets HTTP 401 and no
// socket). Without that token the first frame must be `auth`, within the auth
// deadline the hub enforces. After the upgrade every message must be one binary
// protobuf ClientFrame; anything else gets ServerFrame.error FRAME_MALFORMED and
// close code 1007. `ws` itself closes oversized messages with 1009.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { connectV1 } from '@im-mesh/contracts';
import { AppError, ErrorCode, type AccessTokenClaims, type AccessTokenVerifier, type Logger } from '@im-mesh/platform';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ConnectionHub } from '../sessions/connection-hub.js';
import type { Dispatch } from '../sessions/dispatch.js';
import { WebSocketSession } from './websocket-session.js';

export const WEBSOCKET_PATH = '/ws';
export const SUBPROTOCOL = 'im.v1';
export const TOKEN_SUBPROTOCOL_PREFIX = 'im.auth.';

export interface WebSocketEndpointOptions {
  server: Server;
  hub: ConnectionHub;
  dispatch: Dispatch;
  verifier: AccessTokenVerifier;
  logger: Logger;
  /** Largest inbound message, in bytes. */
  maxFrameBytes: number;
  /** Unsent bytes beyond which a client counts as a slow reader. */
  maxBufferedBytes: number;
  /** Exact origins allowed; empty or containing '*' allows all. */
  allowedOrigins: string[];
}

export interface WebSocketEndpoint {
  /**
   * Takes an upgrade request received by another HTTP server of this process
   * (the all-in-one's edge), exactly as one on this node's own port.
   */
  acceptUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Waits for open sockets to finish closing; those still open after `graceMs` are cut. */
  close(graceMs: number): Promise<void>;
}

/** Query parameters that look like credentials: refused so tokens never sit in URLs and logs. */
const TOKEN_LIKE_PARAMETER = /token|jwt|auth|bearer/i;

export function serveWebSockets(options: WebSocketEndpointOptions): WebSocketEndpoint {
  const { server, hub, dispatch, verifier, logger } = options;
  const allowAnyOrigin = options.allowedOrigins.length === 0 || options.allowedOrigins.includes('*');
  const allowedOrigins = new Set(options.allowedOrigins);
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
    // Only im.v1 is ever selected; the token subprotocol is read, never echoed.
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Until ws takes the socket over, a reset by the client must not crash us.
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://connect.invalid');
    if (url.pathname !== WEBSOCKET_PATH) return refuse(socket, 404, `No WebSocket endpoint here; connect to ${WEBSOCKET_PATH}.`);
    if ([...url.searchParams.keys()].some((name) => TOKEN_LIKE_PARAMETER.test(name))) {
      return refuse(
        socket,
        400,
        `Access tokens are never accepted in URLs; offer the subprotocol ${TOKEN_SUBPROTOCOL_PREFIX}<token> or send an auth frame first.`,
      );
    }
    if (!hub.isAccepting) return refuse(socket, 503, 'This connect node is shutting down; connect to another.');
    const origin = request.headers.origin;
    if (origin !== undefined && !allowAnyOrigin && !allowedOrigins.has(origin)) {
      return refuse(socket, 403, 'This origin may not open WebSocket connections here.');
    }
    const offered = (request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((value) => value.trim())
      .filter(Boolean);
    if (offered.length > 0 && !offered.includes(SUBPROTOCOL)) {
      return refuse(socket, 400, `Offer the WebSocket subprotocol ${SUBPROTOCOL}.`);
    }
    const tokenProtocol = offered.find((value) => value.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
    let claims: AccessTokenClaims | undefined;
    if (tokenProtocol !== undefined) {
      try {
        claims = await verifier.verify(tokenProtocol.slice(TOKEN_SUBPROTOCOL_PREFIX.length));
      } catch (error) {
        if (error instanceof AppError && error.code === ErrorCode.Unavailable) {
          logger.warn({ err: error.cause }, 'cannot verify access tokens: key service unreachable');
          return refuse(socket, 503, error.message);
        }
        return refuse(socket, 401, 'The access token is invalid or expired. Log in again or refresh the token.');
      }
      if (socket.destroyed) return;
      if (!hub.isAccepting) return refuse(socket, 503, 'This connect node is shutting down; connect to another.');
    }
    sockets.handleUpgrade(request, socket, head, (ws) => accept(ws, request, claims));
  }

  function accept(ws: WebSocket, request: IncomingMessage, claims: AccessTokenClaims | undefined): void {
    const session = new WebSocketSession(ws, request.socket.remoteAddress ?? 'unknown', hub.sessionEnvironment, options.maxBufferedBytes);
    ws.on('message', (data, isBinary) => {
      if (!session.isOpen) return;
      if (!isBinary) return malformed(session, 'Frames must be binary protobuf ClientFrame messages; text messages are not accepted.');
      let frame: connectV1.ClientFrame;
      try {
        frame = connectV1.ClientFrame.decode(asBuffer(data));
      } catch {
        return malformed(session, 'The message is not a valid protobuf ClientFrame.');
      }
      void dispatch(session, frame).catch((error: unknown) => {
        logger.error({ err: error, peer: session.peer }, 'dispatch failed');
      });
    });
    ws.on('error', (error) => {
      // Protocol errors (oversized message, bad opcode): ws closes the socket itself.
      logger.debug({ err: error, peer: session.peer }, 'websocket error');
    });
    ws.on('close', (code) => {
      session.close({ kind: 'client_closed', message: `socket closed (${code})` });
    });
    if (!hub.opened(session)) return;
    if (claims) void hub.attach(session, claims);
  }

  const acceptUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    upgrade(request, socket, head).catch((error: unknown) => {
      logger.error({ err: error }, 'websocket upgrade failed');
      refuse(socket, 500, 'Internal error.');
    });
  };
  // The listener stays until the HTTP server closes: while draining it answers
  // 503, where without it Node would treat upgrades as plain requests.
  server.on('upgrade', acceptUpgrade);

  return {
    acceptUpgrade,
    async close(graceMs) {
      const deadline = Date.now() + graceMs;
      while (sockets.clients.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const ws of sockets.clients) ws.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
    },
  };
}

function malformed(session: WebSocketSession, message: string): void {
  session.sendError(AppError.invalidArgument(message, 'FRAME_MALFORMED'));
  session.close({ kind: 'frame_malformed', message: 'malformed frame' });
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Answers the upgrade request with a plain HTTP error and drops the socket; nothing is upgraded. */
function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: message });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.once('finish', () => socket.destroy());
}
