// RedisEphemeralStore against the ephemeral store contract, plus what only a
// shared Redis shows: two auth instances racing to burn the same login nonce.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { RedisEphemeralStore, closeRedis } from '@im-mesh/platform';
import { uniqueName } from '../src/ports/contract-support.js';
import { describeEphemeralStoreContract } from '../src/ports/ephemeral-store/ephemeral-store.contract.js';
import { deleteKeysUnder, openTestRedis, testKeyPrefix } from './redis-test-support.js';

const prefix = testKeyPrefix('ephemeral');
after(() => deleteKeysUnder(prefix));

describeEphemeralStoreContract('RedisEphemeralStore', async () => new RedisEphemeralStore(await openTestRedis(), { keyPrefix: prefix, ownsClient: true }));

describe('RedisEphemeralStore across instances', () => {
  test('a nonce issued by one auth instance and replayed at two is accepted exactly once', async () => {
    const one = new RedisEphemeralStore(await openTestRedis('auth-1'), { keyPrefix: prefix, ownsClient: true });
    const two = new RedisEphemeralStore(await openTestRedis('auth-2'), { keyPrefix: prefix, ownsClient: true });
    try {
      for (let round = 0; round < 5; round += 1) {
        const key = uniqueName('nonce');
        await one.put(key, `nonce-${round}`, 60);
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? one : two).take(key)));
        assert.deepEqual(results.filter((v) => v !== undefined), [`nonce-${round}`], `round ${round}`);
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('attempt counters from two instances share one window that starts at the first attempt', async () => {
    const raw = await openTestRedis();
    const one = new RedisEphemeralStore(raw, { keyPrefix: prefix });
    const two = new RedisEphemeralStore(await openTestRedis('auth-2'), { keyPrefix: prefix, ownsClient: true });
    try {
      const key = uniqueName('sms-attempts');
      const counts = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).increment(key, 30)));
      assert.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1));
      const ttl = await raw.pttl(`${prefix}${key}`);
      assert.ok(ttl > 29_000 && ttl <= 30_000, `counter TTL was ${ttl} ms`);
      // A later increment with a longer TTL does not extend the window.
      await two.increment(key, 600);
      assert.ok((await raw.pttl(`${prefix}${key}`)) <= 30_000);
    } finally {
      await Promise.all([one.close(), two.close()]);
      await closeRedis(raw);
    }
  });
});
