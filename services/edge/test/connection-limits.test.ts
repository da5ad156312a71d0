// What keeps idle or hoarded connections from using up the edge's file
// descriptors: a cap on open connections per client IP, and idle timeouts for
// HTTP/2 sessions without streams and HTTP/1.1 sockets between or inside requests.
import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge } from './support/test-edge.js';
import { startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();

function hostAndPort(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  return { host: address.slice(0, index), port: Number(address.slice(index + 1)) };
}

/** A raw TCP connection to the edge, with a promise that settles when the edge closes it. */
async function openSocket(address: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connectTcp(hostAndPort(address));
  socket.on('error', () => {
    // A reset from the edge shows up as 'close' too.
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

/** True if `closed` settles within `ms`. */
function closesWithin(closed: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
}

/** Sends GET /healthz on `socket` and resolves with the status line. */
function healthz(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1').split('\r\n')[0] ?? ''));
    socket.write('GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n');
  });
}

describe('edge connection limits', () => {
  let upstreams: UpstreamDoubles;
  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
  });
  after(async () => {
    await upstreams.stop();
  });

  test('one IP can hold EDGE_MAX_CONNECTIONS_PER_IP connections; the next is closed on arrival, and a slot frees when one closes', async () => {
    const edge = await startTestEdge(upstreams.addresses, { EDGE_MAX_CONNECTIONS_PER_IP: '2' });
    const opened: Socket[] = [];
    try {
      const first = await openSocket(edge.address);
      const second = await openSocket(edge.address);
      opened.push(first.socket, second.socket);
      const third = await openSocket(edge.address);
      opened.push(third.socket);
      assert.equal(await closesWithin(third.closed, 1_000), true, 'the third connection from 127.0.0.1 is closed');
      // The two within the limit still work.
      assert.equal(await healthz(first.socket), 'HTTP/1.1 200 OK');
      assert.equal(await healthz(second.socket), 'HTTP/1.1 200 OK');

      first.socket.destroy();
      await first.closed;
      // Give the edge a moment to see the close before the next connection arrives.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const fourth = await openSocket(edge.address);
      opened.push(fourth.socket);
      assert.equal(await healthz(fourth.socket), 'HTTP/1.1 200 OK', 'a freed slot can be used again');
    } finally {
      for (const socket of opened) socket.destroy();
      await edge.stop();
    }
  });

  test('an HTTP/2 session with no open stream gets GOAWAY after EDGE_IDLE_TIMEOUT_MS; one with an open stream is left alone', async () => {
    const edge = await startTestEdge(upstreams.addresses, { EDGE_IDLE_TIMEOUT_MS: '300' });
    const idle = connectHttp2(edge.url);
    const busy = connectHttp2(edge.url);
    try {
      idle.on('error', () => {});
      busy.on('error', () => {});
      const idleGoaway = new Promise<boolean>((resolve) => idle.once('goaway', () => resolve(true)));
      let busyGoaway = false;
      busy.once('goaway', () => (busyGoaway = true));
      // A Connect stream that stays open and quiet (Connect needs no header token).
      const stream = busy.request({
        ':method': 'POST',
        ':path': '/im.connect.v1.ConnectService/Connect',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('error', () => {});
      assert.equal(await Promise.race([idleGoaway, new Promise((resolve) => setTimeout(() => resolve(false), 2_000))]), true, 'the idle session got GOAWAY');
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(busyGoaway, false, 'a session with an open stream is not closed for idleness');
      assert.equal(stream.closed, false);
      stream.close();
    } finally {
      idle.destroy();
      busy.destroy();
      await edge.stop();
    }
  });

  test('an HTTP/1.1 socket is closed when idle between requests or stuck inside its request headers', async () => {
    const edge = await startTestEdge(upstreams.addresses, { EDGE_IDLE_TIMEOUT_MS: '300' });
    const opened: Socket[] = [];
    try {
      const keepAlive = await openSocket(edge.address);
      const halfSent = await openSocket(edge.address);
      opened.push(keepAlive.socket, halfSent.socket);
      assert.equal(await healthz(keepAlive.socket), 'HTTP/1.1 200 OK');
      halfSent.socket.resume(); // Read (and drop) whatever answer comes, so the close is seen.
      halfSent.socket.write('GET /healthz HTTP/1.1\r\nHost: edge\r\n');
      // Node adds up to a second of grace to the keep-alive timeout.
      assert.equal(await closesWithin(keepAlive.closed, 3_000), true, 'the idle keep-alive socket is closed');
      assert.equal(await closesWithin(halfSent.closed, 3_000), true, 'the socket with half-sent headers is closed');
    } finally {
      for (const socket of opened) socket.destroy();
      await edge.stop();
    }
  });
});
