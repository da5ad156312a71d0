// The contract of rate-limiter.ts as a test suite every adapter runs:
// `describeRateLimiterContract('Redis', () => openRedisLimiter(...))`. Refill is
// checked with real waits of a few hundred milliseconds; every test uses fresh keys.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sleep, uniqueName, withAdapter } from '../contract-support.js';
import type { RateLimit, RateLimiter } from './rate-limiter.js';

/** Refills so slowly that nothing comes back during a test. */
const NO_REFILL_DURING_TEST: RateLimit = { capacity: 5, refillPerSecond: 0.001 };

export function describeRateLimiterContract(name: string, open: () => Promise<RateLimiter>): void {
  describe(`RateLimiter contract: ${name}`, () => {
    test('a new caller gets the full burst, then is refused with a wait time', withAdapter(open, async (limiter) => {
      const key = uniqueName('ip');
      const remaining: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const decision = await limiter.take(key, NO_REFILL_DURING_TEST);
        assert.equal(decision.allowed, true);
        assert.equal(decision.retryAfterMs, 0);
        remaining.push(decision.remaining);
      }
      assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
      const refused = await limiter.take(key, NO_REFILL_DURING_TEST);
      assert.equal(refused.allowed, false);
      assert.equal(refused.remaining, 0);
      // One token at 0.001/s takes about 1,000 s.
      assert.ok(refused.retryAfterMs > 900_000 && refused.retryAfterMs <= 1_000_000, `retryAfterMs was ${refused.retryAfterMs}`);
    }));

    test('50 concurrent takes never spend more than the bucket holds', withAdapter(open, async (limiter) => {
      const key = uniqueName('user');
      const limit: RateLimit = { capacity: 10, refillPerSecond: 0.001 };
      const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.take(key, limit)));
      assert.equal(decisions.filter((d) => d.allowed).length, 10);
      const remainders = decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b);
      assert.deepEqual(remainders, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'each allowed take saw its own token');
    }));

    test('a refused take removes nothing; a cheaper one still fits', withAdapter(open, async (limiter) => {
      const key = uniqueName('phone');
      assert.equal((await limiter.take(key, NO_REFILL_DURING_TEST, 3)).allowed, true);
      const refused = await limiter.take(key, NO_REFILL_DURING_TEST, 3);
      assert.equal(refused.allowed, false);
      assert.equal(refused.remaining, 2);
      const fits = await limiter.take(key, NO_REFILL_DURING_TEST, 2);
      assert.equal(fits.allowed, true);
      assert.equal(fits.remaining, 0);
    }));

    test('retryAfterMs is when the take succeeds again', withAdapter(open, async (limiter) => {
      const key = uniqueName('ip');
      const limit: RateLimit = { capacity: 2, refillPerSecond: 10 };
      await limiter.take(key, limit);
      await limiter.take(key, limit);
      const refused = await limiter.take(key, limit);
      assert.equal(refused.allowed, false);
      assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 100, `retryAfterMs was ${refused.retryAfterMs}`);
      await sleep(refused.retryAfterMs + 30);
      assert.equal((await limiter.take(key, limit)).allowed, true);
    }));

    test('buckets refill continuously but never above capacity', withAdapter(open, async (limiter) => {
      const key = uniqueName('ip');
      const limit: RateLimit = { capacity: 3, refillPerSecond: 20 };
      for (let i = 0; i < 3; i += 1) await limiter.take(key, limit);
      // 500 ms at 20/s would be 10 tokens; the bucket holds 3.
      await sleep(500);
      const burst = await Promise.all(Array.from({ length: 6 }, () => limiter.take(key, limit)));
      assert.equal(burst.filter((d) => d.allowed).length, 3);
    }));

    test('callers have separate buckets', withAdapter(open, async (limiter) => {
      const limit: RateLimit = { capacity: 1, refillPerSecond: 0.001 };
      const alice = uniqueName('user');
      const bob = uniqueName('user');
      assert.equal((await limiter.take(alice, limit)).allowed, true);
      assert.equal((await limiter.take(alice, limit)).allowed, false);
      assert.equal((await limiter.take(bob, limit)).allowed, true);
    }));

    test('a take that can never succeed says so', withAdapter(open, async (limiter) => {
      const tooBig = await limiter.take(uniqueName('ip'), { capacity: 3, refillPerSecond: 1 }, 4);
      assert.equal(tooBig.allowed, false);
      assert.equal(tooBig.retryAfterMs, Number.MAX_SAFE_INTEGER);
      const key = uniqueName('ip');
      const noRefill: RateLimit = { capacity: 1, refillPerSecond: 0 };
      await limiter.take(key, noRefill);
      assert.equal((await limiter.take(key, noRefill)).retryAfterMs, Number.MAX_SAFE_INTEGER);
    }));
  });
}
