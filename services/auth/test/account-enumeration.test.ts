// Account enumeration: whether an account exists must not show in the status,
// the message or the time of an answer, on login, registration and SMS. Bodies
// are compared exactly. Timing is compared as medians of 9 interleaved tries
// per case, which must lie within 50% of the slower median or 25 ms of each
// other, whichever is larger: generous, because this machine is shared and
// noisy, yet far below the gap an argon2 verification (tens of ms) would
// leave if one case skipped it. A burst of load can skew one measurement, so
// up to three are taken; a real difference shows in every one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { failureOf, loginSecret, register, startAuth, type RunningAuth } from './auth-harness.js';
import { newKey, smsConfig, startSmsInbox, type SmsInbox } from './sms-harness.js';

const TRIES = 9;
const PASSWORD = 'alice has a long passphrase';
const { SMS_CODE_PURPOSE_REGISTER: REGISTER, SMS_CODE_PURPOSE_LOGIN: LOGIN } = authV1.SmsCodePurpose;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs each case once per round, rotating the order, and returns each case's median in ms. */
async function medians(cases: Record<string, (round: number) => Promise<unknown>>, firstRound = 0): Promise<Record<string, number>> {
  const names = Object.keys(cases);
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = firstRound; round < firstRound + TRIES; round += 1) {
    for (let k = 0; k < names.length; k += 1) {
      const name = names[(round + k) % names.length]!;
      const started = performance.now();
      await cases[name]!(round).catch(() => undefined);
      times[name]!.push(performance.now() - started);
    }
  }
  return Object.fromEntries(names.map((name) => [name, median(times[name]!)]));
}

/**
 * Measures the cases' medians and checks they are within the tolerance. A burst
 * of load from other processes can skew one measurement, so up to three are taken
 * and one in tolerance passes; a real difference shows in all three.
 */
async function assertSimilar(cases: Record<string, (round: number) => Promise<unknown>>, what: string): Promise<void> {
  const ATTEMPTS = 3;
  let complaint = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const result = await medians(cases, attempt * TRIES);
    const values = Object.values(result);
    const slowest = Math.max(...values);
    const spread = slowest - Math.min(...values);
    const tolerance = Math.max(25, slowest * 0.5);
    console.log(`${what}: medians ${JSON.stringify(Object.fromEntries(Object.entries(result).map(([k, v]) => [k, Math.round(v)])))} ms, spread ${spread.toFixed(1)} ms, tolerance ${tolerance.toFixed(1)} ms`);
    if (spread <= tolerance) return;
    complaint += `${complaint ? '; ' : ''}medians differ by ${spread.toFixed(1)} ms, more than ${tolerance.toFixed(1)} ms`;
  }
  assert.fail(`${what}: in all ${ATTEMPTS} measurements: ${complaint}`);
}

describe('account enumeration', () => {
  let db: TestDatabase;
  let inbox: SmsInbox;
  let running: RunningAuth;
  let phoneOfAlice: string;

  before(async () => {
    db = await createTestDatabase('auth_enum');
    inbox = await startSmsInbox();
    running = await startAuth(db.url, {
      ...smsConfig(inbox, { fieldKeys: `k:${newKey()}`, current: 'k', blindIndexKey: newKey() }),
      // Enumeration is about answers, not limits: every try here must be answered in full.
      AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: '10000/60',
      AUTH_LOGIN_LIMIT_PER_ACCOUNT: '10000/60',
      AUTH_LOGIN_LIMIT_PER_ADDRESS: '10000/60',
      AUTH_SMS_LIMIT_PER_NUMBER: '10000/60',
      AUTH_SMS_LIMIT_PER_NUMBER_DAILY: '10000/60',
      AUTH_SMS_LIMIT_PER_ADDRESS: '10000/60',
    });
    await register(running.auth, 'alice', PASSWORD);
    phoneOfAlice = '+4916099887766';
    const since = inbox.received.length;
    await running.auth.sendSmsCode({ phoneNumber: phoneOfAlice, purpose: REGISTER });
    const code = await inbox.nextCode(phoneOfAlice, since);
    await running.auth.registerWithSmsCode({ phoneNumber: phoneOfAlice, code, username: 'alice-phone', displayName: '', deviceId: 'd', devicePlatform: '' });
  });
  after(async () => {
    await running?.close();
    await inbox?.close();
    await db?.drop();
  });

  const loginAs = async (username: string, password: string) =>
    running.auth.login({ username, password: await loginSecret(running.auth, 'd', password), deviceId: 'd', devicePlatform: '' });
  const badCiphertext = async (username: string) => {
    const { kid } = await running.auth.getLoginKey({ deviceId: 'd' });
    return running.auth.login({ username, password: { kid, ciphertext: randomBytes(384) }, deviceId: 'd', devicePlatform: '' });
  };

  test('login: unknown user, wrong password and bad ciphertext give one status and message, with similar timing (medians of 9 within 50% or 25 ms)', async () => {
    const bodies = {
      unknownUser: await failureOf(loginAs('nobody-by-this-name', PASSWORD)),
      wrongPassword: await failureOf(loginAs('alice', 'not her passphrase')),
      badCiphertextKnownUser: await failureOf(badCiphertext('alice')),
      badCiphertextUnknownUser: await failureOf(badCiphertext('nobody-by-this-name')),
    };
    for (const [kind, body] of Object.entries(bodies)) assert.deepEqual(body, bodies.wrongPassword, kind);

    await assertSimilar(
      {
        unknownUser: () => loginAs('nobody-by-this-name', PASSWORD),
        wrongPassword: () => loginAs('alice', 'not her passphrase'),
        badCiphertext: () => badCiphertext('alice'),
      },
      'login',
    );
  });

  test('register: a taken username costs the same time as a new one (medians of 9 within 50% or 25 ms), and a bad secret answers alike, and as fast, for both', async () => {
    const badSecret = async (username: string) => {
      const { kid } = await running.auth.getLoginKey({ deviceId: 'd' });
      return running.auth.register({ username, password: { kid, ciphertext: randomBytes(384) }, deviceId: 'd', displayName: '' });
    };
    assert.deepEqual(await failureOf(badSecret('alice')), await failureOf(badSecret('free-name-1')), 'a bad secret says nothing about the name');

    await assertSimilar(
      {
        taken: () => register(running.auth, 'Alice', 'a fine new passphrase'),
        fresh: (round) => register(running.auth, `newcomer-${round}`, 'a fine new passphrase'),
      },
      'register',
    );
    // Whatever a bad secret costs, it must cost the same for a taken name and a free one.
    await assertSimilar(
      {
        badSecretTaken: () => badSecret('alice'),
        badSecretFree: (round) => badSecret(`free-name-${round + 2}`),
      },
      'register with a bad secret',
    );
  });

  test('SMS: sending to a registered and an unknown number, and logging in with a wrong code, answer alike (medians of 9 within 50% or 25 ms)', async () => {
    const unknownPhone = '+4916011223344';
    const wrongCodeFor = (phoneNumber: string) => running.auth.loginWithSmsCode({ phoneNumber, code: '000000', deviceId: 'd', devicePlatform: '' });
    assert.deepEqual(await failureOf(wrongCodeFor(phoneOfAlice)), await failureOf(wrongCodeFor(unknownPhone)));

    await assertSimilar(
      {
        sendKnown: () => running.auth.sendSmsCode({ phoneNumber: phoneOfAlice, purpose: LOGIN }),
        sendUnknown: () => running.auth.sendSmsCode({ phoneNumber: unknownPhone, purpose: LOGIN }),
      },
      'SMS send',
    );
    await assertSimilar(
      {
        wrongCodeKnown: () => wrongCodeFor(phoneOfAlice),
        wrongCodeUnknown: () => wrongCodeFor(unknownPhone),
      },
      'SMS login with a wrong code',
    );
  });
});
