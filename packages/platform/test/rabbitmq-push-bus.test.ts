// RabbitMqPushBus against the push bus contract on the local RabbitMQ, plus what
// only a real broker shows: returns, dead-lettering, a second process's
// connection, queue expiry, and surviving a cut connection, channel errors and
// connection.blocked. Every bus gets its own exchange (and so its own queues),
// deleted afterwards; a missing broker fails the test with the command that
// starts it.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { Registry } from 'prom-client';
import { DEFAULT_RABBITMQ_URL, RabbitMqPushBus, redactAmqpUrl, registerPushBusMetrics, type PushBus, type PushHandler, type PushMessage, type RabbitMqPushBusOptions } from '@im-mesh/platform';
import { sleep, uniqueName, waitFor } from '../src/ports/contract-support.js';
import { describePushBusContract } from '../src/ports/push-bus/push-bus.contract.js';

const TEST_RABBITMQ_URL = process.env.TEST_RABBITMQ_URL ?? process.env.RABBITMQ_URL ?? DEFAULT_RABBITMQ_URL;

function cannotReach(error: unknown): Error {
  return new Error(
    `These tests need RabbitMQ at ${redactAmqpUrl(TEST_RABBITMQ_URL)} (set TEST_RABBITMQ_URL to use another). ` +
      `Start it with: rabbitmq-server -detached. Cause: ${(error as Error).message}`,
  );
}

/**
 * A bus on its own exchange that remembers the nodes consumed through it and,
 * on close, deletes their queues, the dead-letter queue and both exchanges.
 * `peer()` opens another process's view: its own connection, same exchange.
 */
class TestBus implements PushBus {
  private readonly peers: TestBus[] = [];

  private constructor(
    readonly bus: RabbitMqPushBus,
    readonly exchange: string,
    private readonly nodes: Set<string>,
    private readonly owner: boolean,
  ) {}

  static async open(options: RabbitMqPushBusOptions = {}, exchange = uniqueName('test.im.push'), nodes = new Set<string>(), owner = true): Promise<TestBus> {
    let bus: RabbitMqPushBus;
    try {
      bus = await RabbitMqPushBus.open({
        url: TEST_RABBITMQ_URL,
        exchange,
        connectionName: `im-test:${exchange}`,
        // Leftovers of a crashed run disappear on their own.
        queueExpiresMs: 60_000,
        deadLetterExpiresMs: 60_000,
        publishTimeoutMs: 5_000,
        reconnectDelayMs: 50,
        reconnectMaxDelayMs: 500,
        ...options,
      });
    } catch (error) {
      throw cannotReach(error);
    }
    return new TestBus(bus, exchange, nodes, owner);
  }

  get capabilities() {
    return this.bus.capabilities;
  }

  get deadLetterQueue(): string {
    return `${this.exchange}.dead-letter`;
  }

  consume(nodeId: string, handler: PushHandler) {
    this.nodes.add(nodeId);
    return this.bus.consume(nodeId, handler);
  }

  publish(nodeId: string, message: PushMessage) {
    return this.bus.publish(nodeId, message);
  }

  backlog(nodeId: string) {
    return this.bus.backlog(nodeId);
  }

  async peer(options: RabbitMqPushBusOptions = {}): Promise<TestBus> {
    const peer = await TestBus.open(options, this.exchange, this.nodes, false);
    this.peers.push(peer);
    return peer;
  }

  async close(): Promise<void> {
    await Promise.all(this.peers.map((peer) => peer.close()));
    await this.bus.close();
    if (!this.owner) return;
    await withAdminChannel(async (channel) => {
      for (const node of this.nodes) await channel.deleteQueue(`${this.exchange}.${node}`);
      await channel.deleteQueue(this.deadLetterQueue);
      await channel.deleteExchange(this.exchange);
      await channel.deleteExchange(this.deadLetterQueue);
    });
  }
}

async function withAdminChannel<T>(body: (channel: Channel) => Promise<T>): Promise<T> {
  let connection: ChannelModel;
  try {
    connection = await connect(TEST_RABBITMQ_URL);
  } catch (error) {
    throw cannotReach(error);
  }
  try {
    return await body(await connection.createChannel());
  } finally {
    await connection.close();
  }
}

function push(id: string | number): PushMessage {
  return { id: `push-${id}`, body: new TextEncoder().encode(`frame ${id}`) };
}

/** Publishes like the outbox relay: a rejection means "try again". */
async function publishUntilSettled(bus: PushBus, nodeId: string, message: PushMessage, attempts = 20): Promise<string> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await bus.publish(nodeId, message);
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(50);
    }
  }
}

async function withBus(options: RabbitMqPushBusOptions, body: (bus: TestBus) => Promise<void>): Promise<void> {
  const bus = await TestBus.open(options);
  try {
    await body(bus);
  } finally {
    await bus.close();
  }
}

describePushBusContract('RabbitMqPushBus', () => TestBus.open());

describe('RabbitMqPushBus on a real broker', () => {
  test('an unroutable publish resolves unroutable, also when the same push is routable elsewhere at once', () =>
    withBus({}, async (bus) => {
      const live = uniqueName('node');
      const gone = uniqueName('gone-node');
      const received: PushMessage[] = [];
      const sub = await bus.consume(live, async (m) => void received.push(m));
      try {
        // One push id to two nodes at the same time, as core's pusher does.
        const outcomes = await Promise.all([bus.publish(live, push(1)), bus.publish(gone, push(1)), bus.publish(live, push(2))]);
        assert.deepEqual(outcomes, ['delivered', 'unroutable', 'delivered']);
        await waitFor('both routable pushes consumed', () => received.length >= 2, 10_000);
        const counters = bus.bus.counters;
        assert.equal(counters.returned, 1);
        assert.equal(counters.confirmed, 2);
        assert.equal(counters.nacked, 0);
      } finally {
        await sub.close();
      }
    }));

  test('a poison push lands in the dead-letter queue after the delivery limit while later pushes still flow', () =>
    withBus({ deliveryLimit: 3 }, async (bus) => {
      const node = uniqueName('node');
      let poisonDeliveries = 0;
      const handled: string[] = [];
      const sub = await bus.consume(node, async (m) => {
        if (m.id === 'push-poison') {
          poisonDeliveries += 1;
          throw new Error('cannot decode');
        }
        handled.push(m.id);
      });
      try {
        assert.equal(await bus.publish(node, push('poison')), 'delivered');
        for (let n = 1; n <= 20; n += 1) assert.equal(await bus.publish(node, push(n)), 'delivered');
        await waitFor('the 20 pushes after the poison one handled', () => handled.length >= 20, 10_000);
        const dead = await withAdminChannel(async (channel) => {
          let message: Message | false = false;
          await waitFor('the poison push dead-lettered', async () => (message = await channel.get(bus.deadLetterQueue, { noAck: true })) !== false, 10_000);
          return message as Message | false;
        });
        assert.ok(dead);
        assert.equal(dead.properties.messageId, 'push-poison');
        assert.equal(dead.content.toString(), 'frame poison');
        assert.equal(poisonDeliveries, 3, 'the handler saw the poison push deliveryLimit times');
        assert.deepEqual(handled, Array.from({ length: 20 }, (_, i) => `push-${i + 1}`));
      } finally {
        await sub.close();
      }
    }));

  test('a consumer on another connection receives in publish order, including pushes sent while it was away', () =>
    withBus({ maxInFlight: 4 }, async (core) => {
      const connect = await core.peer();
      const node = uniqueName('node');
      const received: number[] = [];
      const onPush = async (m: PushMessage): Promise<void> => void received.push(Number(m.id.slice('push-'.length)));
      const first = await connect.consume(node, onPush);
      // 100 publishes at once through a window of 4: callers wait their turn, order holds.
      const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => core.publish(node, push(i + 1))));
      assert.ok(outcomes.every((o) => o === 'delivered'));
      await waitFor('100 pushes consumed', () => new Set(received).size === 100, 10_000);
      await first.close();
      // The node restarts: its queue keeps what arrives meanwhile.
      for (let n = 101; n <= 200; n += 1) assert.equal(await core.publish(node, push(n)), 'delivered');
      const second = await connect.consume(node, onPush);
      try {
        await waitFor('200 pushes consumed', () => new Set(received).size === 200, 10_000);
        assert.deepEqual([...new Set(received)], Array.from({ length: 200 }, (_, i) => i + 1));
      } finally {
        await second.close();
      }
    }));

  test("a publish into a node's full queue is refused (nack) so the caller retries later", () =>
    withBus({ maxQueueLength: 2 }, async (bus) => {
      const node = uniqueName('node');
      // The node is down: its queue exists and fills up.
      await (await bus.consume(node, async () => undefined)).close();
      // A quorum queue checks its length before each enqueue, so it takes one past the limit.
      for (let n = 1; n <= 3; n += 1) assert.equal(await bus.publish(node, push(n)), 'delivered');
      await assert.rejects(bus.publish(node, push(4)), /refused push push-4/);
      assert.equal(bus.bus.counters.nacked, 1);
      const received: string[] = [];
      const sub = await bus.consume(node, async (m) => void received.push(m.id));
      try {
        await waitFor('the queued pushes consumed', () => received.length === 3, 10_000);
        assert.equal(await bus.publish(node, push(4)), 'delivered', 'the retry goes through once there is room');
      } finally {
        await sub.close();
      }
    }));

  test("a node's queue expires after its consumer left, and then pushes to it are unroutable", () =>
    withBus({ queueExpiresMs: 1_000 }, async (bus) => {
      const node = uniqueName('node');
      const sub = await bus.consume(node, async () => undefined);
      await sub.close();
      assert.equal(await bus.publish(node, push(1)), 'delivered', 'the queue outlives its consumer for a while');
      // RabbitMQ 3.10 may fail a publish that races the queue's deletion by
      // closing the connection; the bus reconnects and the retry is unroutable.
      await waitFor('the queue expired', async () => (await publishUntilSettled(bus, node, push(2))) === 'unroutable', 10_000);
    }));

  test('a connection cut under the bus is survived: publishes in flight settle, later ones and consumption work again', async () => {
    const connections: ChannelModel[] = [];
    await withBus({ onConnection: (c) => void connections.push(c) }, async (bus) => {
      const node = uniqueName('node');
      const received = new Set<string>();
      const sub = await bus.consume(node, async (m) => void received.add(m.id));
      try {
        assert.equal(await bus.publish(node, push(0)), 'delivered');
        // 50 publishes under way when the socket dies, as if the broker's host vanished.
        const inFlight = Array.from({ length: 50 }, (_, i) => bus.publish(node, push(i + 1)));
        // With an error, as a reset from the peer arrives; a bare destroy() is
        // only noticed by the heartbeat, two intervals later.
        (connections[0]?.connection as unknown as { stream: Socket }).stream.destroy(new Error('connection reset by peer (simulated)'));
        const settled = await Promise.allSettled(inFlight);
        // The outbox retries every rejected one; nothing may be lost.
        await Promise.all(settled.map((s, i) => (s.status === 'rejected' ? publishUntilSettled(bus, node, push(i + 1)) : s.value)));
        assert.equal(await publishUntilSettled(bus, node, push(51)), 'delivered');
        await waitFor('every push consumed after the reconnect', () => Array.from({ length: 52 }, (_, i) => `push-${i}`).every((id) => received.has(id)), 10_000);
        assert.ok(bus.bus.counters.reconnects >= 1);
        assert.equal(connections.length, 2, 'one reconnect');
      } finally {
        await sub.close();
      }
    });
  });

  test('channel errors on the publishing and the consuming channel are survived', async () => {
    const channels: { channel: Channel | ConfirmChannel; nodeId?: string }[] = [];
    await withBus({ onChannel: (channel, nodeId) => void channels.push({ channel, nodeId }) }, async (bus) => {
      const node = uniqueName('node');
      const received = new Set<string>();
      const sub = await bus.consume(node, async (m) => void received.add(m.id));
      try {
        assert.equal(await bus.publish(node, push(1)), 'delivered');
        const publishing = channels.find((c) => c.nodeId === undefined)?.channel as ConfirmChannel;
        const consuming = channels.find((c) => c.nodeId === node)?.channel as Channel;
        // A publish to a missing exchange makes the broker close the publishing channel (404).
        const closed = new Promise((resolve) => publishing.once('close', resolve));
        publishing.publish(uniqueName('missing-exchange'), 'x', Buffer.from('x'));
        await closed;
        assert.equal(await publishUntilSettled(bus, node, push(2)), 'delivered');
        // Acking an unknown delivery tag makes it close the consuming channel (406).
        const consumerClosed = new Promise((resolve) => consuming.once('close', resolve));
        consuming.ack({ fields: { deliveryTag: 999_999 } } as Message);
        await consumerClosed;
        assert.equal(await publishUntilSettled(bus, node, push(3)), 'delivered');
        await waitFor('pushes after both channel errors consumed', () => received.has('push-2') && received.has('push-3'), 10_000);
        assert.equal(channels.filter((c) => c.nodeId === undefined).length, 2, 'a new publishing channel');
        assert.equal(channels.filter((c) => c.nodeId === node).length, 2, 'a new consuming channel');
      } finally {
        await sub.close();
      }
    });
  });

  test('a confirm that never comes times the publish out and the next publish uses a fresh channel', async () => {
    const channels: ConfirmChannel[] = [];
    await withBus({ publishTimeoutMs: 300, onChannel: (channel, nodeId) => void (nodeId === undefined && channels.push(channel as ConfirmChannel)) }, async (bus) => {
      const node = uniqueName('node');
      const received = new Set<string>();
      const sub = await bus.consume(node, async (m) => void received.add(m.id));
      try {
        assert.equal(await bus.publish(node, push(1)), 'delivered');
        // Confirms blackholed: the broker's acks reach amqplib but nobody sees them.
        channels[0]?.removeAllListeners('ack');
        await assert.rejects(bus.publish(node, push(2)), /did not confirm push push-2/);
        assert.equal(bus.bus.counters.timedOut, 1);
        assert.equal(await bus.publish(node, push(3)), 'delivered');
        assert.equal(channels.length, 2, 'the stuck channel was replaced');
        // The timed-out push was queued after all: at-least-once, the caller's retry is a duplicate.
        await waitFor('pushes 1 to 3 consumed', () => ['push-1', 'push-2', 'push-3'].every((id) => received.has(id)), 10_000);
      } finally {
        await sub.close();
      }
    });
  });

  test('while the broker blocks publishers, publishes wait and go out on unblock, or time out', async () => {
    const connections: ChannelModel[] = [];
    await withBus({ publishTimeoutMs: 400, onConnection: (c) => void connections.push(c) }, async (bus) => {
      const node = uniqueName('node');
      const sub = await bus.consume(node, async () => undefined);
      const connection = connections[0] as ChannelModel;
      try {
        // What amqplib reports when RabbitMQ sends connection.blocked (memory alarm).
        connection.emit('blocked', 'low on memory');
        let outcome: string | undefined;
        const waiting = bus.publish(node, push(1)).then((o) => (outcome = o));
        await sleep(150);
        assert.equal(outcome, undefined, 'a publish went out while blocked');
        connection.emit('unblocked');
        assert.equal(await waiting, 'delivered');

        connection.emit('blocked', 'low on memory');
        await assert.rejects(bus.publish(node, push(2)), /blocking publishers/);
        assert.equal(bus.bus.counters.timedOut, 1);
        connection.emit('unblocked');
        assert.equal(await bus.publish(node, push(3)), 'delivered');
      } finally {
        await sub.close();
      }
    });
  });

  test('an unreachable broker fails opening with the URL, password hidden', async () => {
    await assert.rejects(
      RabbitMqPushBus.open({ url: 'amqp://guest:secret@127.0.0.1:1', connectTimeoutMs: 1_000 }),
      (error: Error) => /RabbitMQ is not reachable at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/.test(error.message) && !error.message.includes('secret'),
    );
  });
});

describe('RabbitMQ push-bus metrics', () => {
  test('a scrape shows the node queue depth and the publish and confirm totals', async () => {
    await withBus({}, async (bus) => {
      const node = uniqueName('node');
      const sub = await bus.consume(node, async () => undefined);
      await sub.close();
      const registry = new Registry();
      registerPushBusMetrics(registry, bus.bus, { nodeId: node });
      for (let n = 1; n <= 4; n += 1) assert.equal(await bus.publish(node, push(n)), 'delivered');
      const scraped = async () => registry.metrics();
      await waitFor('the depth of four', async () => /push_bus_node_queue_depth 4\b/.test(await scraped()));
      const text = await scraped();
      assert.match(text, /push_bus_events_total\{event="published"\} 4\b/);
      assert.match(text, /push_bus_events_total\{event="confirmed"\} 4\b/);
      assert.match(text, /push_bus_events_total\{event="returned_unroutable"\} 0\b/);
      assert.match(text, /push_bus_reconnects_total 0\b/);
    });
  });
});
