// The contract of ephemeral-store.ts as a test suite every adapter runs:
// `describeEphemeralStoreContract('Redis', () => openRedisStore(...))`. Expiry is
// checked with 1-second TTLs and real waits; every test uses fresh keys.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sleep, uniqueName, withAdapter } from '../contract-support.js';
import type { EphemeralStore } from './ephemeral-store.js';

export function describeEphemeralStoreContract(name: string, open: () => Promise<EphemeralStore>): void {
  describe(`EphemeralStore contract: ${name}`, () => {
    test('a login nonce can be taken exactly once', withAdapter(open, async (store) => {
      const key = uniqueName('nonce');
      await store.put(key, 'ts=1700000000', 60);
      assert.equal(await store.take(key), 'ts=1700000000');
      assert.equal(await store.take(key), undefined);
      assert.equal(await store.take(uniqueName('never-stored')), undefined);
    }));

    test('put replaces an earlier value of the key', withAdapter(open, async (store) => {
      const key = uniqueName('code');
      await store.put(key, '111111', 60);
      await store.put(key, '222222', 60);
      assert.equal(await store.take(key), '222222');
    }));

    test('of 100 concurrent takes of one nonce, exactly one gets it (replayed login)', withAdapter(open, async (store) => {
      const key = uniqueName('nonce');
      await store.put(key, 'burn-me', 60);
      const results = await Promise.all(Array.from({ length: 100 }, () => store.take(key)));
      assert.deepEqual(results.filter((v) => v !== undefined), ['burn-me']);
    }));

    test('get reads a value without removing it, and never an expired one', withAdapter(open, async (store) => {
      const key = uniqueName('known-address');
      assert.equal(await store.get(key), undefined);
      await store.put(key, '1', 1);
      assert.equal(await store.get(key), '1');
      assert.equal(await store.get(key), '1', 'get leaves the value');
      await sleep(1_200);
      assert.equal(await store.get(key), undefined);
    }));

    test('takeIfEqual: a wrong value leaves the key, the right one takes it once', withAdapter(open, async (store) => {
      const key = uniqueName('sms-code');
      await store.put(key, 'mac-of-123456', 60);
      assert.equal(await store.takeIfEqual(key, 'mac-of-000000'), false, 'a wrong guess must not match');
      assert.equal(await store.takeIfEqual(key, 'mac-of-123456'), true, 'the wrong guess must not have burnt the code');
      assert.equal(await store.takeIfEqual(key, 'mac-of-123456'), false, 'a code works once');
      assert.equal(await store.take(key), undefined);
      assert.equal(await store.takeIfEqual(uniqueName('never-stored'), ''), false, 'nothing stored matches nothing, not even ""');
    }));

    test('of 50 concurrent takeIfEqual calls with the right value, exactly one wins', withAdapter(open, async (store) => {
      const key = uniqueName('sms-code');
      await store.put(key, 'right', 60);
      const wins = await Promise.all(Array.from({ length: 50 }, (_, i) => store.takeIfEqual(key, i % 2 === 0 ? 'right' : 'wrong')));
      assert.equal(wins.filter(Boolean).length, 1);
    }));

    test('takeIfEqual never matches an expired value', withAdapter(open, async (store) => {
      const key = uniqueName('sms-code');
      await store.put(key, 'short-lived', 1);
      await sleep(1_200);
      assert.equal(await store.takeIfEqual(key, 'short-lived'), false);
    }));

    test('putIfAbsent stores only when nothing live is there', withAdapter(open, async (store) => {
      const key = uniqueName('lock');
      assert.equal(await store.putIfAbsent(key, 'first', 60), true);
      assert.equal(await store.putIfAbsent(key, 'second', 60), false);
      assert.equal(await store.take(key), 'first');
      assert.equal(await store.putIfAbsent(key, 'third', 60), true);
      assert.equal(await store.take(key), 'third');
    }));

    test('of 20 concurrent putIfAbsent calls, exactly one wins', withAdapter(open, async (store) => {
      const key = uniqueName('lock');
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.putIfAbsent(key, `v${i}`, 60)));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.equal(await store.take(key), `v${wins.indexOf(true)}`);
    }));

    test('values expire after their TTL: never returned, and the key is free again', withAdapter(open, async (store) => {
      const nonce = uniqueName('nonce');
      const lock = uniqueName('lock');
      await store.put(nonce, 'old', 1);
      await store.putIfAbsent(lock, 'old', 1);
      await sleep(1_200);
      assert.equal(await store.take(nonce), undefined, 'an expired nonce was returned');
      assert.equal(await store.putIfAbsent(lock, 'new', 60), true);
      assert.equal(await store.take(lock), 'new');
    }));

    test('increment counts attempts and concurrent increments are not lost', withAdapter(open, async (store) => {
      const key = uniqueName('attempts');
      assert.equal(await store.increment(key, 60), 1);
      assert.equal(await store.increment(key, 60), 2);
      const counts = await Promise.all(Array.from({ length: 50 }, () => store.increment(key, 60)));
      assert.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 3));
    }));

    test('a counter expires TTL after its first increment, not its last', withAdapter(open, async (store) => {
      const key = uniqueName('attempts');
      assert.equal(await store.increment(key, 1), 1);
      await sleep(600);
      assert.equal(await store.increment(key, 1), 2);
      await sleep(600);
      // 1.2 s after the first increment the window is over, even though the
      // last increment was 0.6 s ago.
      assert.equal(await store.increment(key, 1), 1);
    }));
  });
}
