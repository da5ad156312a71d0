// The LISTEN connection's reconnect logic, against fake clients whose events the
// test fires by hand: late events of a broken client must not start a second
// reconnect (which would leak the connection being made), and stop() must close
// a connection that is still connecting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { createLogger } from '@im-mesh/platform';
import { OutboxListener } from '../src/outbox/outbox-listener.js';
import { eventually } from './support/core-harness.js';

const CHANNEL = 'core_outbox';

/** Stands in for pg.Client: connect() waits until the test opens it; end() only records. */
class FakeClient extends EventEmitter {
  ended = false;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private readonly connected = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(connectAtOnce: boolean) {
    super();
    if (connectAtOnce) this.settle.resolve();
  }

  connect(): Promise<void> {
    return this.connected;
  }
  async query(): Promise<void> {}
  async end(): Promise<void> {
    this.ended = true;
    // Like pg: ending a client that is still connecting fails its connect.
    this.settle.reject(new Error('Connection terminated'));
  }
  finishConnecting(): void {
    this.settle.resolve();
  }
  notify(): void {
    this.emit('notification', { channel: CHANNEL, payload: '', processId: 1 });
  }
}

function setup() {
  const clients: FakeClient[] = [];
  let notified = 0;
  const listener = new OutboxListener('postgres://unused', CHANNEL, () => (notified += 1), createLogger({ service: 'test', level: 'silent' }), {
    // The first client connects at once; every later one waits for the test.
    newClient: () => {
      const client = new FakeClient(clients.length === 0);
      clients.push(client);
      return client as unknown as pg.Client;
    },
    retryBaseMs: 5,
  });
  return { listener, clients, notified: () => notified };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OutboxListener', () => {
  test("a broken client's late 'end' while its successor connects starts no second reconnect and leaks nothing", async () => {
    const { listener, clients, notified } = setup();
    await listener.start();
    const [first] = clients;
    first!.emit('error', new Error('connection reset'));
    await eventually('a reconnect began', () => clients.length === 2);
    // The broken client reports its end only now, while the new one is connecting.
    first!.emit('end');
    clients[1]!.finishConnecting();
    await pause(100);
    assert.equal(clients.length, 2, 'exactly one reconnect');
    assert.equal(first!.ended, true, 'the broken client was closed');
    assert.equal(clients[1]!.ended, false, 'the new client is the one in use');
    assert.ok(notified() >= 1, 'the relay was woken after reconnecting');

    const before = notified();
    first!.notify();
    assert.equal(notified(), before, 'a stale client does not wake the relay');
    clients[1]!.notify();
    assert.equal(notified(), before + 1);

    await listener.stop();
    assert.equal(clients[1]!.ended, true, 'stop() closed the live client');
  });

  test('error and end of the same loss schedule one reconnect', async () => {
    const { listener, clients } = setup();
    await listener.start();
    clients[0]!.emit('error', new Error('connection reset'));
    clients[0]!.emit('end');
    await eventually('a reconnect began', () => clients.length === 2);
    clients[1]!.finishConnecting();
    await pause(100);
    assert.equal(clients.length, 2);
    await listener.stop();
    assert.deepEqual(
      clients.map((c) => c.ended),
      [true, true],
    );
  });

  test('stop() during a reconnect closes the connection being made, and nothing reconnects afterwards', async () => {
    const { listener, clients } = setup();
    await listener.start();
    clients[0]!.emit('error', new Error('connection reset'));
    await eventually('a reconnect began', () => clients.length === 2);
    await listener.stop();
    assert.equal(clients[1]!.ended, true, 'the connecting client did not outlive stop()');
    clients[0]!.emit('end');
    await pause(50);
    assert.equal(clients.length, 2);
  });
});
