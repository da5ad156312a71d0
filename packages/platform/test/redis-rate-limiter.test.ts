// RedisRateLimiter against the rate limiter contract, plus what only a shared
// Redis shows: two instances spending one bucket, and idle buckets leaving Redis.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { RedisRateLimiter, closeRedis, type RateLimit } from '@im-mesh/platform';
import { uniqueName } from '../src/ports/contract-support.js';
import { describeRateLimiterContract } from '../src/ports/rate-limiter/rate-limiter.contract.js';
import { deleteKeysUnder, openTestRedis, testKeyPrefix } from './redis-test-support.js';

const prefix = testKeyPrefix('rate');
after(() => deleteKeysUnder(prefix));

describeRateLimiterContract('RedisRateLimiter', async () => new RedisRateLimiter(await openTestRedis(), { keyPrefix: prefix, ownsClient: true }));

describe('RedisRateLimiter across instances', () => {
  test('200 concurrent takes from two edge instances spend exactly the 50 tokens of the bucket', async () => {
    const one = new RedisRateLimiter(await openTestRedis('edge-1'), { keyPrefix: prefix, ownsClient: true });
    const two = new RedisRateLimiter(await openTestRedis('edge-2'), { keyPrefix: prefix, ownsClient: true });
    try {
      const key = uniqueName('ip');
      const limit: RateLimit = { capacity: 50, refillPerSecond: 0.001 };
      const decisions = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? one : two).take(key, limit)));
      const allowed = decisions.filter((d) => d.allowed);
      console.log(`allowed ${allowed.length} of ${decisions.length} takes (capacity ${limit.capacity})`);
      assert.equal(allowed.length, 50);
      assert.deepEqual(
        allowed.map((d) => d.remaining).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i),
        'each allowed take saw its own token',
      );
      assert.ok(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 900_000));
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('a bucket leaves Redis once it would be full again, and a refused take writes nothing', async () => {
    const raw = await openTestRedis();
    const limiter = new RedisRateLimiter(raw, { keyPrefix: prefix });
    try {
      const key = uniqueName('phone');
      // Two tokens missing at 10 per second: full again in 200 ms (+1 s margin).
      await limiter.take(key, { capacity: 5, refillPerSecond: 10 }, 2);
      const ttl = await raw.pttl(`${prefix}${key}`);
      assert.ok(ttl > 1_000 && ttl <= 1_200, `bucket TTL was ${ttl} ms`);
      const neverFits = uniqueName('phone');
      assert.equal((await limiter.take(neverFits, { capacity: 5, refillPerSecond: 10 }, 6)).allowed, false);
      assert.equal(await raw.exists(`${prefix}${neverFits}`), 0);
      // A bucket that never refills is still forgotten after maxIdleSeconds (one day by default).
      const quota = uniqueName('phone');
      await limiter.take(quota, { capacity: 5, refillPerSecond: 0 });
      const quotaTtl = await raw.pttl(`${prefix}${quota}`);
      assert.ok(quotaTtl > 86_000_000 && quotaTtl <= 86_400_000, `no-refill bucket TTL was ${quotaTtl} ms`);
    } finally {
      await limiter.close();
      await closeRedis(raw);
    }
  });
});
