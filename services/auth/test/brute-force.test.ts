// Brute force against login with the default limits (10 tries per account and
// address per 15 min, 100 per account per hour from unknown addresses, 100
// failures per address per hour): refusals are RESOURCE_EXHAUSTED with a retry
// hint, spend no argon2 time, and never lock the owner out; successful logins
// are never slowed down. Client addresses are set the way
// the edge forwards them (X-Forwarded-For from a trusted loopback proxy).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { ClientError, Metadata, Status } from 'nice-grpc';
import { loginSecret, register, startAuth, type RunningAuth } from './auth-harness.js';

const OWNER_PASSWORD = 'the owner knows this one';

describe('brute force', () => {
  let db: TestDatabase;
  let running: RunningAuth;

  const metric = async (outcome: string) => {
    const body = await (await fetch(`http://${running.service.httpAddress}/metrics`)).text();
    return Number(new RegExp(`auth_login_attempts_total\\{outcome="${outcome}"[^}]*\\} (\\d+)`).exec(body)?.[1] ?? 0);
  };
  /** One login try; resolves to the status code (OK = 0) and the retry hint, if any. */
  const attempt = async (username: string, password: string, address: string, deviceId = 'attacker-device') => {
    const secret = await loginSecret(running.auth, deviceId, password);
    let retryAfterMs: number | undefined;
    try {
      await running.auth.login(
        { username, password: secret, deviceId, devicePlatform: '' },
        {
          metadata: Metadata({ 'x-forwarded-for': address }),
          // The checks are counted exactly, so no call may give up early on a loaded machine.
          deadline: new Date(Date.now() + 120_000),
          onTrailer: (trailer) => {
            const hint = trailer.get('im-retry-after-ms');
            if (hint) retryAfterMs = Number(hint);
          },
        },
      );
      return { code: Status.OK, retryAfterMs };
    } catch (error) {
      if (error instanceof ClientError) return { code: error.code, retryAfterMs };
      throw error;
    }
  };
  /** Runs `tries` with at most 12 in flight (below the argon2 waiting line). */
  const inParallel = async <T>(count: number, run: (i: number) => Promise<T>): Promise<T[]> => {
    const results: T[] = new Array(count);
    let next = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (next < count) {
          const i = next++;
          results[i] = await run(i);
        }
      }),
    );
    return results;
  };
  const tally = (results: Array<{ code: Status }>) => {
    const byCode: Record<string, number> = {};
    for (const { code } of results) byCode[Status[code]] = (byCode[Status[code]] ?? 0) + 1;
    return byCode;
  };

  before(async () => {
    db = await createTestDatabase('auth_brute');
    running = await startAuth(db.url);
    await register(running.auth, 'victim', OWNER_PASSWORD);
    await register(running.auth, 'sprayed', OWNER_PASSWORD);
  });
  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('1,000 wrong passwords for one account from one address: 10 are checked, 990 refused with a retry hint; the owner still logs in', async () => {
    assert.equal((await attempt('victim', OWNER_PASSWORD, '198.51.100.10', 'owner-laptop')).code, Status.OK, 'the owner logs in before the attack');
    const checkedBefore = await metric('wrong_password');

    const results = await inParallel(1000, (i) => attempt('victim', `guess number ${i}`, '203.0.113.66'));
    const counts = tally(results);
    console.log(`1,000 guesses from one address: ${JSON.stringify(counts)}`);
    assert.deepEqual(counts, { UNAUTHENTICATED: 10, RESOURCE_EXHAUSTED: 990 });
    assert.equal((await metric('wrong_password')) - checkedBefore, 10, 'argon2 ran for 10 guesses only');
    const hints = results.filter((r) => r.code === Status.RESOURCE_EXHAUSTED).map((r) => r.retryAfterMs ?? 0);
    assert.ok(hints.every((ms) => ms >= 1000 && ms <= 900_000), 'every refusal says when to retry (within the 15-minute window)');

    const body = await (await fetch(`http://${running.service.httpAddress}/metrics`)).text();
    const throttled = [...body.matchAll(/auth_attempts_throttled_total\{limit="(\w+)"[^}]*\} (\d+)/g)].map((m) => [m[1], Number(m[2])] as const);
    console.log(`refusals by limit: ${JSON.stringify(Object.fromEntries(throttled))}`);
    assert.equal(throttled.reduce((sum, [, n]) => sum + n, 0), 990, 'operators see every refusal, by limit');
    assert.equal((await attempt('victim', OWNER_PASSWORD, '198.51.100.10', 'owner-laptop')).code, Status.OK, 'the owner is not locked out');
    assert.equal((await attempt('victim', OWNER_PASSWORD, '198.51.100.200', 'owner-phone')).code, Status.OK, 'nor from a new address');
  });

  test('guesses spread over 300 addresses exhaust the account budget, but the owner on a known address still logs in', async () => {
    assert.equal((await attempt('sprayed', OWNER_PASSWORD, '198.51.100.20', 'owner-laptop')).code, Status.OK);
    const results = await inParallel(300, (i) => attempt('sprayed', `spread guess ${i}`, `10.${Math.floor(i / 250) + 1}.${i % 250}.7`));
    const counts = tally(results);
    console.log(`300 guesses from 300 addresses: ${JSON.stringify(counts)}`);
    // The owner's own first login, from an address not yet known, used one of the 100.
    assert.deepEqual(counts, { UNAUTHENTICATED: 99, RESOURCE_EXHAUSTED: 201 }, 'the loose per-account limit: 100 an hour');
    assert.equal((await attempt('sprayed', OWNER_PASSWORD, '198.51.100.20', 'owner-laptop')).code, Status.OK, 'known address: not locked out');
    const fresh = await attempt('sprayed', OWNER_PASSWORD, '198.51.100.21', 'owner-new-phone');
    assert.equal(fresh.code, Status.RESOURCE_EXHAUSTED, 'an address never seen before waits for the account budget to refill');
    assert.ok(fresh.retryAfterMs! > 0 && fresh.retryAfterMs! <= 60_000, `a short wait, not a lockout (${fresh.retryAfterMs} ms)`);
  });

  test('one try each for 1,000 accounts from one address: about 100 are checked (at most 12 more, the calls in flight), the rest refused; other addresses are unaffected', async () => {
    const unknownBefore = await metric('unknown_user');
    const results = await inParallel(1000, (i) => attempt(`account-${i}`, 'spray password 1', '203.0.113.99'));
    const counts = tally(results);
    console.log(`1,000 accounts from one address: ${JSON.stringify(counts)}`);
    // The address limit counts failures, known only after each check; the 12
    // calls in flight when the 100th failure lands may still be checked.
    const checked = counts.UNAUTHENTICATED ?? 0;
    assert.ok(checked >= 100 && checked <= 112, `${checked} accounts were checked`);
    assert.equal(checked + (counts.RESOURCE_EXHAUSTED ?? 0), 1000);
    assert.equal((await metric('unknown_user')) - unknownBefore, checked);
    assert.equal((await attempt('victim', OWNER_PASSWORD, '198.51.100.10', 'owner-laptop')).code, Status.OK);
  });

  test('a client cannot pick its address: X-Forwarded-For from an untrusted peer is ignored', async () => {
    // Auth trusting no proxy sees every call as coming from loopback itself.
    const strict = await startAuth(db.url, { AUTH_TRUSTED_PROXIES: 'none', AUTH_LOGIN_LIMIT_PER_ADDRESS: '3/3600' });
    try {
      const codes: Status[] = [];
      for (let i = 0; i < 5; i += 1) {
        const secret = await loginSecret(strict.auth, 'd', 'whatever pass');
        codes.push(
          await strict.auth
            .login({ username: `x${i}yz`, password: secret, deviceId: 'd', devicePlatform: '' }, { metadata: Metadata({ 'x-forwarded-for': `192.0.2.${i}` }) })
            .then(() => Status.OK, (error: ClientError) => error.code),
        );
      }
      assert.deepEqual(codes, [16, 16, 16, 8, 8], 'rotating the header did not give fresh budgets');
    } finally {
      await strict.close();
    }
  });

  test('successful logins are never throttled: one account on 30 devices and 10 accounts behind one address', async () => {
    const office = await startAuth(db.url, { AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: '3/3600', AUTH_LOGIN_LIMIT_PER_ADDRESS: '3/3600', AUTH_LOGIN_LIMIT_PER_ACCOUNT: '3/3600' });
    try {
      const login = async (username: string, device: string) => {
        const secret = await loginSecret(office.auth, device, OWNER_PASSWORD);
        return office.auth
          .login({ username, password: secret, deviceId: device, devicePlatform: '' }, { metadata: Metadata({ 'x-forwarded-for': '198.51.100.77' }) })
          .then(() => Status.OK, (error: ClientError) => error.code);
      };
      const devices = [];
      for (let i = 0; i < 30; i += 1) devices.push(await login('victim', `kiosk-${i}`));
      assert.deepEqual(tally(devices.map((code) => ({ code }))), { OK: 30 });
      for (let i = 0; i < 10; i += 1) await register(office.auth, `colleague-${i}`, OWNER_PASSWORD);
      const colleagues = [];
      for (let i = 0; i < 10; i += 1) colleagues.push(await login(`colleague-${i}`, 'desk'));
      assert.deepEqual(tally(colleagues.map((code) => ({ code }))), { OK: 10 });
    } finally {
      await office.close();
    }
  });
});
