// Idle client connections on the public port. Each open socket holds a file
// descriptor, so a connection that carries no call for a while is closed: an
// HTTP/2 session once it has had no open stream for the idle timeout (quiet but
// open streams, like Subscribe, are never touched), an HTTP/1.1 socket between
// requests or stuck in the middle of its request headers.
import type { Server as Http1Server, ServerOptions } from 'node:http';
import type { Http2Session } from 'node:http2';

/** Node's own HTTP/1.1 limits, which the idle timeout may only shorten. */
const NODE_KEEP_ALIVE_TIMEOUT_MS = 5_000;
const NODE_HEADERS_TIMEOUT_MS = 60_000;
const NODE_CONNECTIONS_CHECK_MS = 30_000;

/** Sends GOAWAY once `session` has had no open stream for `idleTimeoutMs`. */
export function closeWhenIdle(session: Http2Session, idleTimeoutMs: number): void {
  let openStreams = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    // close() is graceful: the client learns through GOAWAY and reconnects on its next call.
    timer = setTimeout(() => session.close(), idleTimeoutMs);
    timer.unref();
  };
  session.on('stream', (stream: { once(event: 'close', listener: () => void): unknown }) => {
    openStreams += 1;
    clearTimeout(timer);
    stream.once('close', () => {
      openStreams -= 1;
      if (openStreams === 0 && !session.closed && !session.destroyed) arm();
    });
  });
  session.once('close', () => clearTimeout(timer));
  arm();
}

/** HTTP/1.1 server options that bound how long a socket may wait for a request and its headers. */
export function http1IdleOptions(idleTimeoutMs: number): ServerOptions {
  return {
    keepAliveTimeout: Math.min(idleTimeoutMs, NODE_KEEP_ALIVE_TIMEOUT_MS),
    headersTimeout: Math.min(idleTimeoutMs, NODE_HEADERS_TIMEOUT_MS),
    connectionsCheckingInterval: Math.min(Math.max(Math.floor(idleTimeoutMs / 2), 10), NODE_CONNECTIONS_CHECK_MS),
  };
}

/**
 * The HTTP/1.1 server never listens itself (the protocol sniffer hands sockets
 * over), so Node never starts the periodic check that enforces headersTimeout and
 * that closeIdleConnections() relies on. Emitting 'listening' starts it exactly as
 * a listening server would (the timer is unref'd, close() stops it). Upgraded
 * sockets and responses still streaming are not affected: only the wait for a
 * request and its headers is limited.
 */
export function trackHttp1Connections(server: Http1Server): void {
  server.emit('listening');
}
