// The contract of push-bus.ts as a test suite every adapter runs:
// `describePushBusContract('RabbitMQ', () => openRabbitBus(...))`. It reads the
// adapter's `capabilities` (order, delivery limit) instead of its class. Every
// test uses fresh node ids, so shared brokers need no purge.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sleep, uniqueName, withAdapter, waitFor } from '../contract-support.js';
import type { PushBus, PushMessage } from './push-bus.js';

function push(n: number): PushMessage {
  return { id: `push-${n}`, body: new TextEncoder().encode(`frame ${n}`) };
}

function numbersOf(messages: PushMessage[]): number[] {
  return messages.map((m) => Number(m.id.slice('push-'.length)));
}

/** Drops repeats (at-least-once delivery allows them), keeping first arrivals. */
function firstArrivals(messages: PushMessage[]): number[] {
  return [...new Set(numbersOf(messages))];
}

export function describePushBusContract(name: string, open: () => Promise<PushBus>): void {
  describe(`PushBus contract: ${name}`, () => {
    test('declares what it guarantees', withAdapter(open, async (bus) => {
      assert.equal(typeof bus.capabilities.durable, 'boolean');
      assert.equal(typeof bus.capabilities.orderedPerNode, 'boolean');
      assert.ok(Number.isInteger(bus.capabilities.deliveryLimit) && bus.capabilities.deliveryLimit >= 2,
        'the delivery limit must allow at least one redelivery');
    }));

    test('backlog counts the pushes waiting for a node, and says when a node has no address', withAdapter(open, async (bus) => {
      assert.equal(await bus.backlog(uniqueName('no-such-node')), undefined);
      const node = uniqueName('node');
      const sub = await bus.consume(node, async () => undefined);
      await sub.close();
      assert.equal(await bus.backlog(node), 0);
      for (let n = 1; n <= 3; n += 1) assert.equal(await bus.publish(node, push(n)), 'delivered');
      await waitFor('three pushes counted', async () => (await bus.backlog(node)) === 3);
      const received: PushMessage[] = [];
      const next = await bus.consume(node, async (message) => {
        received.push(message);
      });
      await waitFor('the backlog handed over', () => received.length >= 3);
      await waitFor('the backlog empty', async () => (await bus.backlog(node)) === 0);
      await next.close();
    }));

    test('a push to a node nobody consumes is unroutable', withAdapter(open, async (bus) => {
      assert.equal(await bus.publish(uniqueName('gone-node'), push(1)), 'unroutable');
    }));

    test('a node receives its pushes intact, in publish order when the bus promises order', withAdapter(open, async (bus) => {
      const node = uniqueName('node');
      const received: PushMessage[] = [];
      const sub = await bus.consume(node, async (message) => {
        received.push(message);
      });
      try {
        for (let n = 1; n <= 100; n += 1) assert.equal(await bus.publish(node, push(n)), 'delivered');
        await waitFor('100 pushes handled', () => new Set(numbersOf(received)).size === 100);
        const expected = Array.from({ length: 100 }, (_, i) => i + 1);
        if (bus.capabilities.orderedPerNode) assert.deepEqual(firstArrivals(received), expected);
        else assert.deepEqual(firstArrivals(received).sort((a, b) => a - b), expected);
        const first = received.find((m) => m.id === 'push-1');
        assert.equal(new TextDecoder().decode(first?.body), 'frame 1');
      } finally {
        await sub.close();
      }
    }));

    test('pushes reach only the node they were published to', withAdapter(open, async (bus) => {
      const nodeA = uniqueName('node-a');
      const nodeB = uniqueName('node-b');
      const atA: PushMessage[] = [];
      const atB: PushMessage[] = [];
      const subA = await bus.consume(nodeA, async (m) => void atA.push(m));
      const subB = await bus.consume(nodeB, async (m) => void atB.push(m));
      try {
        await bus.publish(nodeA, push(1));
        await bus.publish(nodeB, push(2));
        await waitFor('both nodes handled their push', () => atA.length > 0 && atB.length > 0);
        await sleep(100);
        assert.deepEqual(firstArrivals(atA), [1]);
        assert.deepEqual(firstArrivals(atB), [2]);
      } finally {
        await subA.close();
        await subB.close();
      }
    }));

    test('a rejected push is redelivered and later pushes still arrive', withAdapter(open, async (bus) => {
      const node = uniqueName('node');
      const attempts = new Map<number, number>();
      const handled: number[] = [];
      const sub = await bus.consume(node, async (message) => {
        const [n] = numbersOf([message]) as [number];
        attempts.set(n, (attempts.get(n) ?? 0) + 1);
        // The socket write fails once, then works.
        if (n === 1 && attempts.get(n) === 1) throw new Error('socket busy');
        handled.push(n);
      });
      try {
        await bus.publish(node, push(1));
        await bus.publish(node, push(2));
        await waitFor('both pushes handled', () => handled.includes(1) && handled.includes(2), 5_000);
        assert.equal(attempts.get(1), 2, 'the rejected push was delivered once more');
      } finally {
        await sub.close();
      }
    }));

    test('a push rejected every time is dead-lettered at the delivery limit and does not block the node', withAdapter(open, async (bus) => {
      const node = uniqueName('node');
      let poisonAttempts = 0;
      const handled: number[] = [];
      const sub = await bus.consume(node, async (message) => {
        const [n] = numbersOf([message]) as [number];
        if (n === 1) {
          poisonAttempts += 1;
          throw new Error('cannot decode');
        }
        handled.push(n);
      });
      try {
        await bus.publish(node, push(1));
        await bus.publish(node, push(2));
        await waitFor('the push after the poison one handled', () => handled.includes(2), 10_000);
        // Let any redelivery still in flight arrive before counting.
        await sleep(300);
        assert.equal(poisonAttempts, bus.capabilities.deliveryLimit);
      } finally {
        await sub.close();
      }
    }));

    test('a closed subscription gets nothing more and loses nothing: the next consumer gets the rest', withAdapter(open, async (bus) => {
      const node = uniqueName('node');
      const first: PushMessage[] = [];
      let release: () => void = () => undefined;
      const blocked = new Promise<void>((resolve) => (release = resolve));
      const sub1 = await bus.consume(node, async (m) => {
        first.push(m);
        // The first consumer is still writing push 1 when its node closes.
        if (m.id === 'push-1') await blocked;
      });
      await bus.publish(node, push(1));
      await bus.publish(node, push(2));
      await waitFor('push 1 reached the first consumer', () => first.length > 0);
      await sub1.close();
      release();
      const afterClose = await bus.publish(node, push(3));

      const second: PushMessage[] = [];
      const sub2 = await bus.consume(node, async (m) => void second.push(m));
      try {
        const expected = afterClose === 'delivered' ? [2, 3] : [2];
        await waitFor('the next consumer got what was left', () => expected.every((n) => numbersOf(second).includes(n)), 5_000);
        await sleep(100);
        assert.deepEqual(firstArrivals(first), [1], 'a closed consumer was handed more pushes');
        // Push 1 may come again (at-least-once); 2 and 3 must not be lost.
        const rest = firstArrivals(second).filter((n) => n !== 1);
        assert.deepEqual(bus.capabilities.orderedPerNode ? rest : rest.sort((a, b) => a - b), expected);
      } finally {
        await sub2.close();
      }
    }));
  });
}
