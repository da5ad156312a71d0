// Phone numbers and SMS codes over real gRPC against a real PostgreSQL, with
// auth's HTTP SMS adapter posting to a local provider: register, log in and
// reset a password with codes; what is stored; and every way a code is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { Metadata, Status } from 'nice-grpc';
import { failureOf, login, loginSecret, queryDb, startAuth, type RunningAuth } from './auth-harness.js';
import { newKey, smsConfig, startSmsInbox, type SmsInbox } from './sms-harness.js';

const { SMS_CODE_PURPOSE_REGISTER: REGISTER, SMS_CODE_PURPOSE_LOGIN: LOGIN, SMS_CODE_PURPOSE_RESET_PASSWORD: RESET } = authV1.SmsCodePurpose;
const from = (address: string) => ({ metadata: Metadata({ 'x-forwarded-for': address }) });
let nextNumber = 10_000_000;
/** A German mobile number no other test uses (each number may get one code a minute). */
const freshPhone = () => `+49151${(nextNumber += 1)}`;

describe('SMS codes and phone accounts', () => {
  let db: TestDatabase;
  let inbox: SmsInbox;
  let running: RunningAuth;

  const counts = async () => {
    const [row] = await queryDb<{ users: string; contacts: string; credentials: string }>(
      db.url,
      `SELECT (SELECT count(*) FROM auth.users) AS users, (SELECT count(*) FROM auth.user_contacts) AS contacts,
              (SELECT count(*) FROM auth.credentials) AS credentials`,
    );
    return row;
  };
  const codeFor = async (phone: string, purpose: authV1.SmsCodePurpose, address = '198.51.100.1') => {
    const since = inbox.received.length;
    await running.auth.sendSmsCode({ phoneNumber: phone, purpose }, from(address));
    return inbox.nextCode(phone, since);
  };
  const registerPhone = async (phone: string, username = '') => {
    const code = await codeFor(phone, REGISTER);
    return running.auth.registerWithSmsCode({ phoneNumber: phone, code, username, displayName: '', deviceId: 'phone-1', devicePlatform: 'ios' });
  };

  before(async () => {
    db = await createTestDatabase('auth_sms');
    inbox = await startSmsInbox();
    running = await startAuth(db.url, {
      ...smsConfig(inbox, { fieldKeys: `k1:${newKey()}`, current: 'k1', blindIndexKey: newKey() }),
      // Flows here need several codes for one number within a minute; the
      // default of one a minute is tested in sms-codes.test.ts and below.
      AUTH_SMS_LIMIT_PER_NUMBER: '100/60',
    });
  });
  after(async () => {
    await running?.close();
    await inbox?.close();
    await db?.drop();
  });

  test('a new user registers with a phone number (and is logged in), then logs in with a code; the number is stored sealed', async () => {
    const phone = freshPhone();
    const registered = await registerPhone(phone, 'phoebe');
    assert.equal(registered.username, 'phoebe');
    assert.ok(registered.sessionId && registered.tokens?.accessToken, 'registering opened a session on the device');
    const [row] = await queryDb<{ value_sealed: Buffer; key_id: string; blind_index: Buffer; verified: boolean }>(
      db.url,
      `SELECT value_sealed, key_id, blind_index, verified_at IS NOT NULL AS verified FROM auth.user_contacts WHERE user_id = $1`,
      [registered.userId],
    );
    assert.ok(row);
    assert.equal(row.key_id, 'k1');
    assert.equal(row.blind_index.length, 32);
    assert.equal(row.verified, true);
    assert.ok(!row.value_sealed.toString('latin1').includes(phone.slice(1)), 'no digits of the number in clear');
    assert.equal(inbox.received.at(-1)!.authorization, 'Bearer sms-provider-api-key-4f1c', 'the configured headers went along');

    const code = await codeFor(phone, LOGIN);
    const session = await running.auth.loginWithSmsCode({ phoneNumber: phone.replace('+49151', '+49 151 '), code, deviceId: 'phone-1', devicePlatform: 'ios' });
    assert.equal(session.userId, registered.userId, 'the number as typed with spaces finds the same account');
    assert.ok(session.tokens?.accessToken);
  });

  test('other services find a user by phone number (internal FindUser), through the blind index', async () => {
    const phone = freshPhone();
    const { userId } = await registerPhone(phone, 'findable');
    const found = await running.directory.findUser({ key: { $case: 'phoneNumber', value: phone.replace('+49151', '+49 (151) ') } });
    assert.deepEqual(found.user, { userId, username: 'findable', displayName: 'findable' });
    assert.equal((await running.directory.findUser({ key: { $case: 'phoneNumber', value: freshPhone() } })).user, undefined, 'unknown number');
    assert.equal((await running.directory.findUser({ key: { $case: 'phoneNumber', value: 'not a number' } })).user, undefined, 'malformed');
  });

  test('without a username the account gets a generated one', async () => {
    const registered = await registerPhone(freshPhone());
    assert.match(registered.username, /^user-[a-z2-9]{10}$/);
  });

  test('SendSmsCode answers the same for a registered and an unknown number', async () => {
    const known = freshPhone();
    await registerPhone(known);
    const unknown = freshPhone();
    const shape = (response: authV1.SendSmsCodeResponse) => ({
      ttlSeconds: Math.round((response.codeExpiresAt!.getTime() - Date.now()) / 1000),
      resendSeconds: Math.round((response.resendAllowedAt!.getTime() - Date.now()) / 1000),
      fields: Object.keys(response).sort(),
    });
    const forKnown = shape(await running.auth.sendSmsCode({ phoneNumber: known, purpose: LOGIN }, from('198.51.100.2')));
    const forUnknown = shape(await running.auth.sendSmsCode({ phoneNumber: unknown, purpose: LOGIN }, from('198.51.100.2')));
    assert.deepEqual(forUnknown, forKnown);
    assert.equal(forKnown.ttlSeconds, 300, 'five minutes by default');
  });

  test('a wrong code, an unknown number and a disabled account all fail login like a wrong password', async () => {
    const expected = await failureOf(login(running.auth, 'nobody-at-all', 'some long password'));
    const phone = freshPhone();
    const { userId } = await registerPhone(phone);
    const code = await codeFor(phone, LOGIN);
    const wrong = code === '123456' ? '654321' : '123456';
    const failures: Record<string, { code: number; message: string }> = {
      wrongCode: await failureOf(running.auth.loginWithSmsCode({ phoneNumber: phone, code: wrong, deviceId: 'd', devicePlatform: '' })),
      unknownNumber: await failureOf(
        running.auth.loginWithSmsCode({ phoneNumber: freshPhone(), code, deviceId: 'd', devicePlatform: '' }),
      ),
      malformedCode: await failureOf(running.auth.loginWithSmsCode({ phoneNumber: phone, code: '12ab', deviceId: 'd', devicePlatform: '' })),
    };
    await queryDb(db.url, `UPDATE auth.users SET disabled_at = now() WHERE id = $1`, [userId]);
    failures.disabledWithRightCode = await failureOf(
      running.auth.loginWithSmsCode({ phoneNumber: phone, code, deviceId: 'd', devicePlatform: '' }),
    );
    for (const [kind, failure] of Object.entries(failures)) assert.deepEqual(failure, expected, kind);
  });

  test('a code for one purpose does not work for another, and a used code does not work again', async () => {
    const phone = freshPhone();
    const registerCode = await codeFor(phone, REGISTER);
    const before = await counts();
    const asLogin = await failureOf(running.auth.loginWithSmsCode({ phoneNumber: phone, code: registerCode, deviceId: 'd', devicePlatform: '' }));
    assert.equal(asLogin.code, Status.UNAUTHENTICATED);
    const device = { deviceId: 'phone-2', devicePlatform: '' };
    await running.auth.registerWithSmsCode({ phoneNumber: phone, code: registerCode, username: '', displayName: '', ...device });
    const reused = await failureOf(running.auth.registerWithSmsCode({ phoneNumber: freshPhone(), code: registerCode, username: '', displayName: '', ...device }));
    assert.equal(reused.code, Status.INVALID_ARGUMENT);
    const again = await failureOf(running.auth.registerWithSmsCode({ phoneNumber: phone, code: registerCode, username: '', displayName: '', ...device }));
    assert.deepEqual(again, reused, 'used: the same refusal as a wrong code');
    assert.match(again.message, /wrong, was already used or has expired/);
    const after = await counts();
    assert.equal(Number(after!.users), Number(before!.users) + 1, 'only the one registration stored anything');
  });

  test('registering a number that already has an account is ALREADY_EXISTS after the code, and stores nothing', async () => {
    const phone = freshPhone();
    await registerPhone(phone);
    const before = await counts();
    const again = await failureOf(registerPhone(phone));
    assert.equal(again.code, Status.ALREADY_EXISTS);
    assert.match(again.message, /already has an account/);
    assert.deepEqual(await counts(), before);
  });

  test('a password reset with a code sets a password that then logs in, and follows the password rules', async () => {
    const phone = freshPhone();
    const { username } = await registerPhone(phone, 'resetter');
    const code = await codeFor(phone, RESET);
    const weak = await failureOf(
      running.auth.resetPasswordWithSmsCode({ phoneNumber: phone, code, deviceId: 'd', newPassword: await loginSecret(running.auth, 'd', 'password1') }),
    );
    assert.equal(weak.code, Status.INVALID_ARGUMENT);
    assert.match(weak.message, /most common passwords/);
    // The weak password was refused before the code was checked, so the code still works.
    await running.auth.resetPasswordWithSmsCode({
      phoneNumber: phone,
      code,
      deviceId: 'd',
      newPassword: await loginSecret(running.auth, 'd', 'a new long passphrase'),
    });
    const session = await login(running.auth, username, 'a new long passphrase');
    assert.ok(session.tokens?.accessToken);
  });

  test('a password reset with a wrong code and one for an unknown number answer alike, and change nothing', async () => {
    const phone = freshPhone();
    const { username } = await registerPhone(phone);
    const code = await codeFor(phone, RESET);
    const wrong = code === '000000' ? '111111' : '000000';
    const attempt = async (phoneNumber: string, guess: string) =>
      failureOf(
        running.auth.resetPasswordWithSmsCode({ phoneNumber, code: guess, deviceId: 'd', newPassword: await loginSecret(running.auth, 'd', 'an attacker passphrase') }),
      );
    const before = await counts();
    const wrongCode = await attempt(phone, wrong);
    const unknownNumber = await attempt(freshPhone(), code);
    assert.equal(wrongCode.code, Status.UNAUTHENTICATED);
    assert.deepEqual(unknownNumber, wrongCode);
    assert.deepEqual(await counts(), before, 'no password was set');
    assert.equal((await failureOf(login(running.auth, username, 'an attacker passphrase'))).code, Status.UNAUTHENTICATED);
  });

  test('bad input is INVALID_ARGUMENT naming the field, and stores and sends nothing', async () => {
    const before = await counts();
    const sent = inbox.received.length;
    const badPhone = await failureOf(running.auth.sendSmsCode({ phoneNumber: '0151 1234567', purpose: LOGIN }));
    assert.equal(badPhone.code, Status.INVALID_ARGUMENT);
    assert.match(badPhone.message, /phone_number must be in international E\.164 form/);
    const noPurpose = await failureOf(running.auth.sendSmsCode({ phoneNumber: freshPhone(), purpose: authV1.SmsCodePurpose.SMS_CODE_PURPOSE_UNSPECIFIED }));
    assert.equal(noPurpose.code, Status.INVALID_ARGUMENT);
    assert.match(noPurpose.message, /purpose/);
    const badName = await failureOf(
      running.auth.registerWithSmsCode({ phoneNumber: freshPhone(), code: '123456', username: 'no spaces allowed', displayName: '', deviceId: 'd', devicePlatform: '' }),
    );
    assert.equal(badName.code, Status.INVALID_ARGUMENT);
    assert.deepEqual(await counts(), before);
    assert.equal(inbox.received.length, sent);
  });
});

describe('SMS turned off (the default)', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  before(async () => {
    db = await createTestDatabase('auth_sms_off');
    running = await startAuth(db.url);
  });
  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('every SMS method answers FAILED_PRECONDITION saying how to turn it on', async () => {
    const failures = [
      await failureOf(running.auth.sendSmsCode({ phoneNumber: '+4915112345678', purpose: LOGIN })),
      await failureOf(running.auth.loginWithSmsCode({ phoneNumber: '+4915112345678', code: '123456', deviceId: 'd', devicePlatform: '' })),
      await failureOf(running.auth.registerWithSmsCode({ phoneNumber: '+4915112345678', code: '123456', username: '', displayName: '', deviceId: 'd', devicePlatform: '' })),
      await failureOf(running.auth.resetPasswordWithSmsCode({ phoneNumber: '+4915112345678', code: '123456', deviceId: 'd' })),
    ];
    for (const failure of failures) {
      assert.equal(failure.code, Status.FAILED_PRECONDITION);
      assert.match(failure.message, /AUTH_SMS_PROVIDER/);
    }
  });
});
