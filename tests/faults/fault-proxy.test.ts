// The fault proxy itself, against a loopback echo server: each fault does what
// the fault scenarios rely on, and heals.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FaultProxy } from './support/fault-proxy.js';
import { sleep } from './support/storm.js';

interface Echo {
  server: Server;
  address: string;
  /** Bytes the echo server received, all connections together. */
  received: () => number;
}

async function startEcho(): Promise<Echo> {
  let received = 0;
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      received += chunk.length;
      socket.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { server, address: `127.0.0.1:${port}`, received: () => received };
}

/** A client socket that collects what it reads and how it ended. */
async function dial(proxy: FaultProxy): Promise<{ socket: Socket; text: () => string; ended: Promise<string> }> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString()));
  const ended = new Promise<string>((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    socket.once('close', () => resolve('closed'));
  });
  // A refused connection may be reset before or after 'connect' is seen.
  await Promise.race([once(socket, 'connect').catch(() => undefined), ended]);
  return { socket, text: () => text, ended };
}

async function eventually(what: string, done: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('fault proxy', () => {
  let echo: Echo;
  let proxy: FaultProxy;

  before(async () => {
    echo = await startEcho();
    proxy = await FaultProxy.start({ targets: [echo.address] });
  });

  after(async () => {
    await proxy.close();
    echo.server.close();
  });

  test('passes bytes through both ways', async () => {
    const client = await dial(proxy);
    client.socket.write('hello');
    await eventually('the echo', () => client.text() === 'hello');
    client.socket.destroy();
  });

  test('adds latency without reordering', async () => {
    proxy.setLatency(100);
    const client = await dial(proxy);
    const started = Date.now();
    client.socket.write('a');
    client.socket.write('b');
    await eventually('the echo', () => client.text() === 'ab');
    assert.ok(Date.now() - started >= 190, 'the round trip took at least twice the latency');
    proxy.heal();
    client.socket.destroy();
  });

  test('a blackhole towards the client swallows answers silently; healing resets the holed connection', async () => {
    const client = await dial(proxy);
    const before = echo.received();
    proxy.blackhole('to-client');
    client.socket.write('lost answer');
    await eventually('the upstream to get the bytes', () => echo.received() === before + 'lost answer'.length);
    await sleep(50);
    assert.equal(client.text(), '', 'nothing came back');
    assert.equal(proxy.dropped.toClient, 'lost answer'.length);
    proxy.heal();
    assert.equal(await client.ended, 'ECONNRESET', 'the holed connection is reset on heal');
  });

  test('a blackhole in both directions swallows requests too, on new connections as well', async () => {
    proxy.blackhole('both');
    const client = await dial(proxy);
    const before = echo.received();
    client.socket.write('into the void');
    await sleep(100);
    assert.equal(echo.received(), before, 'the upstream got nothing');
    assert.equal(client.text(), '');
    proxy.heal();
    assert.equal(await client.ended, 'ECONNRESET');
    const fresh = await dial(proxy);
    fresh.socket.write('back');
    await eventually('the echo after healing', () => fresh.text() === 'back');
    fresh.socket.destroy();
  });

  test('resets every live connection, and refuses new ones until healed', async () => {
    const client = await dial(proxy);
    client.socket.write('x');
    await eventually('the echo', () => client.text() === 'x');
    proxy.resetAll();
    assert.equal(await client.ended, 'ECONNRESET');
    proxy.refuse();
    const refused = await dial(proxy);
    assert.equal(await refused.ended, 'ECONNRESET', 'a new connection is reset at once');
    proxy.heal();
    const fresh = await dial(proxy);
    fresh.socket.write('y');
    await eventually('the echo after healing', () => fresh.text() === 'y');
    fresh.socket.destroy();
  });

  test('hands a connection to the next target when the first refuses', async () => {
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadAddress = `127.0.0.1:${(dead.address() as { port: number }).port}`;
    dead.close();
    const balancer = await FaultProxy.start({ targets: [deadAddress, echo.address] });
    const client = await dial(balancer);
    client.socket.write('failover');
    await eventually('the echo from the second target', () => client.text() === 'failover');
    assert.deepEqual(balancer.liveTargets(), [echo.address]);
    client.socket.destroy();
    await balancer.close();
  });
});
