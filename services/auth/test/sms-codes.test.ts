// SMS codes against the in-memory ephemeral store and rate limiter on a
// controlled clock: guessing, reuse, wrong purpose, expiry, send floods per
// number, address and country, and what is stored (an HMAC, never the code).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { BlindIndex, createLogger, MemoryEphemeralStore, MemoryRateLimiter, type EphemeralStore } from '@im-mesh/platform';
import { Registry } from 'prom-client';
import { DEFAULT_PER_NUMBER, DEFAULT_PER_NUMBER_DAILY, SMS_CODE_MAX_ATTEMPTS, SmsCodes, type SmsSendLimits } from '../src/sms/sms-codes.js';
import type { SmsMessage, SmsSender } from '../src/sms/sms-sender.js';

const ALICE = '+4915112345678';
const BOB = '+4915187654321';
const GENEROUS: SmsSendLimits = { perNumber: DEFAULT_PER_NUMBER, perNumberDaily: DEFAULT_PER_NUMBER_DAILY, perAddress: { capacity: 1000, refillPerSecond: 1 }, perCountry: { capacity: 1000, refillPerSecond: 1 } };

class RecordingSender implements SmsSender {
  readonly name = 'recording';
  readonly sent: SmsMessage[] = [];
  async send(message: SmsMessage): Promise<void> {
    this.sent.push(message);
  }
  lastCodeTo(phone: string): string {
    const last = this.sent.filter((m) => m.to === phone).at(-1);
    assert.ok(last, `no SMS went to ${phone}`);
    return last.code;
  }
}

/** Records every value written, to check what the store holds. */
function recordingStore(inner: EphemeralStore, written: string[]): EphemeralStore {
  return {
    put: (key, value, ttl) => (written.push(key, value), inner.put(key, value, ttl)),
    putIfAbsent: (key, value, ttl) => (written.push(key, value), inner.putIfAbsent(key, value, ttl)),
    take: (key) => inner.take(key),
    get: (key) => inner.get(key),
    takeIfEqual: (key, expected) => inner.takeIfEqual(key, expected),
    increment: (key, ttl) => (written.push(key), inner.increment(key, ttl)),
    close: () => inner.close(),
  };
}

function setup(limits: SmsSendLimits = GENEROUS) {
  let now = Date.UTC(2026, 10, 27, 12, 0, 0);
  const clock = () => now;
  const written: string[] = [];
  const sender = new RecordingSender();
  const codes = new SmsCodes({
    store: recordingStore(new MemoryEphemeralStore(clock), written),
    limiter: new MemoryRateLimiter(clock),
    sender,
    blindIndex: new BlindIndex(randomBytes(32)),
    codeTtlSeconds: 300,
    limits,
    registry: new Registry(),
    logger: createLogger({ service: 'auth', level: 'silent' }),
    now: clock,
  });
  const sendAndRead = async (phone: string, purpose: 'login' | 'register' | 'reset_password' = 'login', address = '203.0.113.5') => {
    await codes.send(phone, purpose, address);
    await codes.drain();
    return sender.lastCodeTo(phone);
  };
  return { codes, sender, written, sendAndRead, advance: (ms: number) => (now += ms) };
}

describe('SMS codes', () => {
  test('a code is six random digits, works once, and its expiry and resend time are reported', async () => {
    const { codes, sender, advance } = setup();
    const sent = await codes.send(ALICE, 'login', '203.0.113.5');
    await codes.drain();
    const code = sender.lastCodeTo(ALICE);
    assert.match(code, /^[0-9]{6}$/);
    assert.ok(sender.sent[0]!.text.includes(code));
    assert.equal(sent.expiresAt.getTime() - Date.UTC(2026, 10, 27, 12, 0, 0), 300_000, 'five minutes');
    assert.equal(sent.resendAllowedAt.getTime() - Date.UTC(2026, 10, 27, 12, 0, 0), 60_000);
    advance(1_000);
    assert.equal(await codes.verify(ALICE, 'login', code), true);
    assert.equal(await codes.verify(ALICE, 'login', code), false, 'reuse is refused');
  });

  test('the store holds an HMAC under a key without the number, never the code or the number', async () => {
    const { written, sendAndRead } = setup();
    const code = await sendAndRead(ALICE);
    const everything = written.join('\n');
    assert.ok(!everything.includes(code), 'the code is not stored');
    assert.ok(!everything.includes('4915112345678'), 'the number is not stored or used as a key');
  });

  test('guessing: four wrong tries leave the code usable, the fifth burns it', async () => {
    const { codes, sendAndRead } = setup();
    const code = await sendAndRead(ALICE);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 1; i < SMS_CODE_MAX_ATTEMPTS; i += 1) assert.equal(await codes.verify(ALICE, 'login', wrong), false);
    assert.equal(await codes.verify(ALICE, 'login', code), true, 'the right code on the fifth try still works');
  });

  test('guessing: after five wrong tries even the right code is refused', async () => {
    const { codes, sendAndRead } = setup();
    const code = await sendAndRead(BOB);
    const wrong = code === '999999' ? '888888' : '999999';
    for (let i = 0; i < SMS_CODE_MAX_ATTEMPTS; i += 1) assert.equal(await codes.verify(BOB, 'login', wrong), false);
    assert.equal(await codes.verify(BOB, 'login', code), false);
  });

  test('1,000,000 possible codes with 5 tries: a guesser walking the space gets nowhere', async () => {
    const { codes, sendAndRead } = setup();
    const code = await sendAndRead(ALICE);
    let hits = 0;
    for (let guess = 0; guess < 200; guess += 1) {
      if (await codes.verify(ALICE, 'login', String(guess).padStart(6, '0'))) hits += 1;
    }
    // Only the first five guesses were checked against the code at all.
    assert.equal(hits, Number(code) < 5 ? 1 : 0);
  });

  test('a code works only for its purpose and its number', async () => {
    const { codes, sendAndRead } = setup();
    const code = await sendAndRead(ALICE, 'register');
    assert.equal(await codes.verify(ALICE, 'login', code), false, 'wrong purpose');
    assert.equal(await codes.verify(ALICE, 'reset_password', code), false, 'wrong purpose');
    assert.equal(await codes.verify(BOB, 'register', code), false, 'wrong number');
    assert.equal(await codes.verify(ALICE, 'register', code), true, 'those failures did not burn it');
  });

  test('a code expires after its TTL', async () => {
    const { codes, sendAndRead, advance } = setup();
    const code = await sendAndRead(ALICE);
    advance(300_001);
    assert.equal(await codes.verify(ALICE, 'login', code), false);
  });

  test('malformed codes are refused and count as tries', async () => {
    const { codes, sendAndRead } = setup();
    const code = await sendAndRead(ALICE);
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 12345', '１２３４５６']) assert.equal(await codes.verify(ALICE, 'login', bad), false);
    assert.equal(await codes.verify(ALICE, 'login', code), false, 'six bad tries used up the five attempts');
  });

  test('a new code replaces the old one and brings fresh tries', async () => {
    const { codes, sendAndRead, advance } = setup();
    const first = await sendAndRead(ALICE);
    for (let i = 0; i < 4; i += 1) await codes.verify(ALICE, 'login', 'xxxxxx');
    advance(61_000);
    const second = await sendAndRead(ALICE);
    if (first !== second) assert.equal(await codes.verify(ALICE, 'login', first), false, 'the old code is gone');
    for (let i = 0; i < 3; i += 1) await codes.verify(ALICE, 'login', 'xxxxxx');
    assert.equal(await codes.verify(ALICE, 'login', second), true);
  });

  test('send flood per number: one a minute, ten a day, with a retry hint', async () => {
    const { codes, advance } = setup();
    await codes.send(ALICE, 'login', '203.0.113.5');
    const again = await codes.send(ALICE, 'login', '203.0.113.6').then(
      () => assert.fail('a second code within the minute was sent'),
      (error: { code: string; retryAfterMs: number }) => error,
    );
    assert.equal(again.code, 'resource_exhausted');
    assert.ok(again.retryAfterMs > 0 && again.retryAfterMs <= 60_000);
    let sentToday = 1;
    for (let minute = 0; minute < 30; minute += 1) {
      advance(61_000);
      try {
        await codes.send(ALICE, 'login', `198.51.100.${minute}`);
        sentToday += 1;
      } catch {
        // Refused by the daily limit.
      }
    }
    assert.equal(sentToday, 10, 'ten codes a day at most, whatever the address');
  });

  test('send flood per address and per country calling code', async () => {
    const { codes } = setup({ ...GENEROUS, perAddress: { capacity: 3, refillPerSecond: 0.0001 }, perCountry: { capacity: 5, refillPerSecond: 0.0001 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      outcomes.push(await codes.send(`+491511000000${i}`, 'login', '203.0.113.9').then(() => 'sent', () => 'refused'));
    }
    assert.deepEqual(outcomes, ['sent', 'sent', 'sent', 'refused', 'refused', 'refused'], 'three per address');
    const fromOthers: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      fromOthers.push(await codes.send(`+491512000000${i}`, 'login', `198.51.100.${i}`).then(() => 'sent', () => 'refused'));
    }
    assert.deepEqual(fromOthers, ['sent', 'sent', 'refused', 'refused'], 'five per country code (+49) in all');
    assert.equal(await codes.send('+33612345678', 'login', '198.51.100.77').then(() => 'sent'), 'sent', 'another country is not affected');
  });

  test('a provider failure is logged and counted, never thrown at the caller', async () => {
    const failing: SmsSender = { name: 'failing', send: async () => Promise.reject(new Error('HTTP 500')) };
    const registry = new Registry();
    const codes = new SmsCodes({
      store: new MemoryEphemeralStore(),
      limiter: new MemoryRateLimiter(),
      sender: failing,
      blindIndex: new BlindIndex(randomBytes(32)),
      codeTtlSeconds: 300,
      limits: GENEROUS,
      registry,
      logger: createLogger({ service: 'auth', level: 'silent' }),
    });
    await codes.send(ALICE, 'login', '203.0.113.5');
    await codes.drain();
    assert.match(await registry.metrics(), /auth_sms_codes_sent_total\{outcome="failed"\} 1/);
  });
});
