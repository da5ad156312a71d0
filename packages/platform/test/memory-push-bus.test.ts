// MemoryPushBus against the push bus contract, plus the in-process takeover case
// (a node's consumer replaced while it is handling a push).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryPushBus, type PushMessage } from '@im-mesh/platform';
import { waitFor } from '../src/ports/contract-support.js';
import { describePushBusContract } from '../src/ports/push-bus/push-bus.contract.js';

describePushBusContract('MemoryPushBus', async () => new MemoryPushBus(undefined, 4));

test('a consumer replaced mid-push hands the rest of the queue to its successor, each push once', async () => {
  const bus = new MemoryPushBus();
  const message = (n: number): PushMessage => ({ id: `push-${n}`, body: new Uint8Array([n]) });
  const seen: string[] = [];
  let release: () => void = () => undefined;
  const writing = new Promise<void>((resolve) => (release = resolve));
  await bus.consume('connect-1', async (m) => {
    seen.push(`old:${m.id}`);
    await writing;
  });
  for (let n = 1; n <= 3; n += 1) await bus.publish('connect-1', message(n));
  await waitFor('the old consumer is writing push 1', () => seen.length === 1);
  await bus.consume('connect-1', async (m) => void seen.push(`new:${m.id}`));
  // Give the new consumer time to start before the old one finishes its write.
  await new Promise((resolve) => setTimeout(resolve, 30));
  release();
  await waitFor('pushes 2 and 3 handled', () => seen.length >= 3);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(seen, ['old:push-1', 'new:push-2', 'new:push-3']);
  await bus.close();
});
