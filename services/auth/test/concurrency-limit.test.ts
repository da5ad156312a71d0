// The password-hashing semaphore on its own: it bounds the tasks running, keeps
// a bounded line in arrival order, refuses callers beyond the line as busy, and
// never starts work for a call that was abandoned while it waited.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError, ErrorCode } from '@im-mesh/platform';
import { ConcurrencyLimit, SERVER_BUSY } from '../src/passwords/concurrency-limit.js';

/** A task that records its start and finishes when told to. */
function gate(started: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return {
    task: async () => {
      started.push(name);
      await done;
      return name;
    },
    open: () => open(),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ConcurrencyLimit', () => {
  test('runs at most `limit` tasks at once and starts the waiters in arrival order', async () => {
    const limit = new ConcurrencyLimit(2, 10);
    const started: string[] = [];
    const gates = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
    const results = gates.map((g) => limit.run(g.task));
    await tick();
    assert.deepEqual(started, ['a', 'b']);
    gates[1]!.open();
    await tick();
    assert.deepEqual(started, ['a', 'b', 'c']);
    gates[0]!.open();
    await tick();
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
    for (const g of gates) g.open();
    assert.deepEqual(await Promise.all(results), ['a', 'b', 'c', 'd']);
  });

  test('a caller beyond the waiting line is refused at once with RESOURCE_EXHAUSTED and its task never runs', async () => {
    const limit = new ConcurrencyLimit(1, 2);
    const started: string[] = [];
    const gates = ['running', 'waiting-1', 'waiting-2', 'refused'].map((name) => gate(started, name));
    const [running, waiting1, waiting2, refused] = gates.map((g) => limit.run(g.task));
    await assert.rejects(refused!, (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, ErrorCode.ResourceExhausted);
      assert.equal(error.message, SERVER_BUSY);
      return true;
    });
    for (const g of gates) g.open();
    assert.deepEqual(await Promise.all([running, waiting1, waiting2]), ['running', 'waiting-1', 'waiting-2']);
    assert.deepEqual(started, ['running', 'waiting-1', 'waiting-2']);
    // The line drained: there is room again.
    assert.equal(await limit.run(async () => 'later'), 'later');
  });

  test('a waiter whose call is abandoned leaves the line without running, and frees its place', async () => {
    const limit = new ConcurrencyLimit(1, 1);
    const started: string[] = [];
    const first = gate(started, 'first');
    const abandoned = gate(started, 'abandoned');
    const call = new AbortController();
    const running = limit.run(first.task);
    const waiting = limit.run(abandoned.task, call.signal);
    call.abort();
    await assert.rejects(waiting, (error: unknown) => (error as Error).name === 'AbortError');
    // Its place in the line is free again, and it is not handed the slot later.
    const next = gate(started, 'next');
    const queued = limit.run(next.task);
    first.open();
    next.open();
    abandoned.open();
    assert.deepEqual(await Promise.all([running, queued]), ['first', 'next']);
    assert.deepEqual(started, ['first', 'next']);
  });

  test('a call abandoned before it asks never runs, even with a slot free', async () => {
    const limit = new ConcurrencyLimit(1, 1);
    const call = new AbortController();
    call.abort();
    let ran = false;
    await assert.rejects(
      limit.run(async () => {
        ran = true;
      }, call.signal),
      (error: unknown) => (error as Error).name === 'AbortError',
    );
    assert.equal(ran, false);
    assert.equal(await limit.run(async () => 'free'), 'free', 'the slot was not leaked');
  });
});
