// The one public port. Each new connection is peeked at: the HTTP/2 connection
// preface ("PRI * HTTP/2.0", sent first by gRPC clients with prior knowledge) goes
// to the HTTP/2 server; anything else to the HTTP/1.1 server (grpc-web, WebSocket,
// ops, CORS). The peeked bytes are put back before the socket is handed over.
// It is also where one client address is kept from holding every file descriptor:
// past the per-IP limit of open connections, a new one is closed on arrival.
import { createServer, type Server, type Socket } from 'node:net';
import { clientAddress } from '../admission/admission.js';

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0');

export interface ProtocolSniffer {
  server: Server;
  /** Every socket accepted and not yet closed, so shutdown can end them. */
  sockets: Set<Socket>;
}

export function createProtocolSniffer(
  handoff: { http2: (socket: Socket) => void; http1: (socket: Socket) => void },
  options: { sniffTimeoutMs?: number; maxConnectionsPerIp?: number } = {},
): ProtocolSniffer {
  const sockets = new Set<Socket>();
  const openPerIp = new Map<string, number>();
  const maxPerIp = options.maxConnectionsPerIp ?? Number.POSITIVE_INFINITY;
  const server = createServer((socket) => {
    const ip = clientAddress(socket.remoteAddress);
    const open = openPerIp.get(ip) ?? 0;
    if (open >= maxPerIp) {
      socket.destroy();
      return;
    }
    openPerIp.set(ip, open + 1);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (openPerIp.get(ip) ?? 1) - 1;
      if (left > 0) openPerIp.set(ip, left);
      else openPerIp.delete(ip);
    });
    // A client that connects and says nothing holds a socket for nothing.
    socket.setTimeout(options.sniffTimeoutMs ?? 10_000, () => socket.destroy());
    socket.on('error', () => {
      // Resets before the hand-over concern nobody; after it, the servers listen too.
    });
    let peeked = Buffer.alloc(0);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) peeked = Buffer.concat([peeked, chunk]);
      const compared = Math.min(peeked.length, HTTP2_PREFACE.length);
      const http2 = peeked.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
      if (http2 && peeked.length < HTTP2_PREFACE.length) return; // Could still be either: wait for more.
      socket.removeListener('readable', onReadable);
      socket.setTimeout(0);
      // Put the bytes back for the server that takes over (it reads them first).
      socket.unshift(peeked);
      if (http2) handoff.http2(socket);
      else handoff.http1(socket);
    };
    socket.on('readable', onReadable);
  });
  return { server, sockets };
}
