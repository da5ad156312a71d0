// The login throttle against both rate-limiter and ephemeral-store adapters
// (in memory, and the Redis on this machine, as LIMITS=redis runs it): strict
// per (account, address), renewed by a success; loose per account and skipped
// for known addresses; failures only per address; a cap on registrations.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  AppError,
  closeRedis,
  MemoryEphemeralStore,
  MemoryRateLimiter,
  openRedis,
  RedisEphemeralStore,
  RedisRateLimiter,
  type EphemeralStore,
  type RateLimiter,
} from '@im-mesh/platform';
import { Registry } from 'prom-client';
import { rateLimitOf } from '../src/login/login-limits.js';
import { LoginThrottle } from '../src/login/login-throttle.js';

interface Engines {
  limiter: RateLimiter;
  markers: EphemeralStore;
  close(): Promise<void>;
}

const engines: Record<string, () => Promise<Engines>> = {
  memory: async () => {
    const limiter = new MemoryRateLimiter();
    const markers = new MemoryEphemeralStore();
    return { limiter, markers, close: async () => void (await limiter.close(), await markers.close()) };
  },
  redis: async () => {
    const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = await openRedis({ url, connectionName: 'auth-throttle-test', connectTimeoutMs: 2_000 }).catch((error: Error) => {
      throw new Error(`This test needs Redis at ${url} (set TEST_REDIS_URL); start it with redis-server. Cause: ${error.message}`);
    });
    // A prefix no other run uses, so the shared server is never flushed.
    const prefix = `test:auth-throttle:${randomUUID()}:`;
    return {
      limiter: new RedisRateLimiter(redis, { keyPrefix: `${prefix}rate:` }),
      markers: new RedisEphemeralStore(redis, { keyPrefix: `${prefix}eph:` }),
      close: () => closeRedis(redis),
    };
  },
};

const limits = {
  perAccountAndAddress: rateLimitOf('3/3600'),
  perAccount: rateLimitOf('5/3600'),
  perAddress: rateLimitOf('4/3600'),
  registrationsPerAddress: rateLimitOf('2/3600'),
};

/** 'ok' or 'throttled' for one attempt that ends as `outcome`. */
async function attempt(throttle: LoginThrottle, account: string, address: string, outcome: 'wrong' | 'right'): Promise<string> {
  try {
    await throttle.admit(account, address);
  } catch (error) {
    assert.ok(error instanceof AppError && error.code === 'resource_exhausted' && error.retryAfterMs! > 0);
    return 'throttled';
  }
  if (outcome === 'right') {
    await throttle.succeeded(account, address);
    return 'ok';
  }
  await throttle.failed(address);
  return 'failed';
}

for (const [name, open] of Object.entries(engines)) {
  describe(`login throttle on ${name} engines`, () => {
    const withThrottle = (body: (throttle: LoginThrottle) => Promise<void>) => async () => {
      const opened = await open();
      try {
        await body(new LoginThrottle({ limiter: opened.limiter, markers: opened.markers, limits, registry: new Registry() }));
      } finally {
        await opened.close();
      }
    };

    test('three wrong tries per account and address, then a wait; another address still gets its own tries', withThrottle(async (throttle) => {
      const outcomes = [];
      for (let i = 0; i < 5; i += 1) outcomes.push(await attempt(throttle, 'username:alice', '203.0.113.1', 'wrong'));
      assert.deepEqual(outcomes, ['failed', 'failed', 'failed', 'throttled', 'throttled']);
      assert.equal(await attempt(throttle, 'username:alice', '203.0.113.2', 'wrong'), 'failed');
    }));

    test('successes renew the account-and-address bucket: ten logins in a row all pass', withThrottle(async (throttle) => {
      const outcomes = [];
      for (let i = 0; i < 10; i += 1) outcomes.push(await attempt(throttle, 'username:bob', '198.51.100.1', 'right'));
      assert.deepEqual(outcomes, Array(10).fill('ok'));
    }));

    test('the per-account budget is spent by unknown addresses and skipped for known ones', withThrottle(async (throttle) => {
      assert.equal(await attempt(throttle, 'username:carol', '198.51.100.9', 'right'), 'ok');
      const spread = [];
      for (let i = 0; i < 6; i += 1) spread.push(await attempt(throttle, 'username:carol', `10.0.0.${i}`, 'wrong'));
      assert.deepEqual(spread, ['failed', 'failed', 'failed', 'failed', 'throttled', 'throttled'], 'five per account, one spent by the owner');
      assert.equal(await attempt(throttle, 'username:carol', '198.51.100.9', 'right'), 'ok', 'the owner’s known address');
    }));

    test('the per-address limit counts failures only: many accounts succeed, four failures close it', withThrottle(async (throttle) => {
      for (let i = 0; i < 8; i += 1) assert.equal(await attempt(throttle, `username:user-${i}`, '192.0.2.50', 'right'), 'ok');
      const spray = [];
      for (let i = 0; i < 6; i += 1) spray.push(await attempt(throttle, `username:victim-${i}`, '192.0.2.50', 'wrong'));
      assert.deepEqual(spray, ['failed', 'failed', 'failed', 'failed', 'throttled', 'throttled']);
    }));

    test('registrations per address are capped', withThrottle(async (throttle) => {
      await throttle.admitRegistration('192.0.2.77');
      await throttle.admitRegistration('192.0.2.77');
      await assert.rejects(throttle.admitRegistration('192.0.2.77'), { code: 'resource_exhausted' });
      await throttle.admitRegistration('192.0.2.78');
    }));
  });
}
