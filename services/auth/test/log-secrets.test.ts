// No password, code, token, phone number, key or provider credential reaches
// a log line. Auth runs at trace level with every line captured while a user
// goes through every flow of this service, successes and failures alike; then
// the captured text is searched for each secret that went by.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { failureOf, login, loginSecret, register, startAuth, type RunningAuth } from './auth-harness.js';
import { newKey, smsConfig, startSmsInbox, type SmsInbox } from './sms-harness.js';

const { SMS_CODE_PURPOSE_REGISTER: REGISTER, SMS_CODE_PURPOSE_LOGIN: LOGIN, SMS_CODE_PURPOSE_RESET_PASSWORD: RESET } = authV1.SmsCodePurpose;

class CapturedLog extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('secrets in logs', () => {
  let db: TestDatabase;
  let inbox: SmsInbox;

  before(async () => {
    db = await createTestDatabase('auth_logs');
    inbox = await startSmsInbox();
  });
  after(async () => {
    await inbox?.close();
    await db?.drop();
  });

  test('every flow at trace level: no password, code, token, number, nonce, ciphertext or key in any line', async () => {
    const log = new CapturedLog();
    const fieldKey = newKey();
    const blindIndexKey = newKey();
    const running: RunningAuth = await startAuth(
      db.url,
      { ...smsConfig(inbox, { fieldKeys: `k:${fieldKey}`, current: 'k', blindIndexKey }), AUTH_SMS_LIMIT_PER_NUMBER: '100/60' },
      { logDestination: log },
    );
    const secrets: Record<string, string> = {
      fieldKey,
      blindIndexKey,
      providerApiKey: 'sms-provider-api-key-4f1c',
    };
    try {
      const password = 'correct horse battery staple';
      const newPassword = 'a brand new passphrase';
      const phone = '+4917612398745';
      secrets.password = password;
      secrets.newPassword = newPassword;
      secrets.wrongPassword = 'my wrong guess 42';
      secrets.phone = phone.slice(1);

      const offer = await running.auth.getLoginKey({ deviceId: 'laptop' });
      secrets.nonce = offer.nonce;
      const secret = await loginSecret(running.auth, 'laptop', password);
      secrets.ciphertext = Buffer.from(secret.ciphertext).toString('base64');
      await running.auth.register({ username: 'logan', password: secret, deviceId: 'laptop', displayName: '' });
      await failureOf(register(running.auth, 'logan', password));
      const session = await login(running.auth, 'logan', password);
      secrets.accessToken = session.tokens!.accessToken;
      secrets.refreshToken = session.tokens!.refreshToken;
      await failureOf(login(running.auth, 'logan', secrets.wrongPassword));
      const refreshed = await running.auth.refreshToken({ refreshToken: session.tokens!.refreshToken });
      secrets.rotatedRefreshToken = refreshed.tokens!.refreshToken;

      const codeOf = async (purpose: authV1.SmsCodePurpose) => {
        const since = inbox.received.length;
        await running.auth.sendSmsCode({ phoneNumber: phone, purpose });
        return inbox.nextCode(phone, since);
      };
      secrets.registerCode = await codeOf(REGISTER);
      await running.auth.registerWithSmsCode({ phoneNumber: phone, code: secrets.registerCode, username: 'logan-phone', displayName: '', deviceId: 'p', devicePlatform: '' });
      secrets.loginCode = await codeOf(LOGIN);
      await failureOf(running.auth.loginWithSmsCode({ phoneNumber: phone, code: '000000', deviceId: 'p', devicePlatform: '' }));
      const phoneSession = await running.auth.loginWithSmsCode({ phoneNumber: phone, code: secrets.loginCode, deviceId: 'p', devicePlatform: '' });
      secrets.phoneAccessToken = phoneSession.tokens!.accessToken;
      secrets.resetCode = await codeOf(RESET);
      await running.auth.resetPasswordWithSmsCode({
        phoneNumber: phone,
        code: secrets.resetCode,
        deviceId: 'p',
        newPassword: await loginSecret(running.auth, 'p', newPassword),
      });
    } finally {
      await running.close();
    }

    assert.ok(log.text.split('\n').length > 10, 'lines were captured');
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!log.text.includes(value), `the ${name} appears in the log`);
    }
    // Codes are six digits, which can occur by chance inside ids; check them
    // where they would be written: as a word of their own.
    for (const name of ['registerCode', 'loginCode', 'resetCode']) {
      assert.ok(!new RegExp(`\\b${secrets[name]}\\b`).test(log.text.replace(/"[0-9a-f-]{36}"/g, '')), `the ${name} appears in the log`);
    }
  });

  test('the console SMS provider shows the code only in development mode', async () => {
    const keys = { AUTH_FIELD_KEYS: `k:${newKey()}`, AUTH_FIELD_KEY_CURRENT: 'k', AUTH_BLIND_INDEX_KEY: newKey() };
    const codeLine = /development SMS to \+4917600000001: Your im-mesh code is (\d{6})/;

    const devLog = new CapturedLog();
    const dev = await startAuth(db.url, { ...keys, AUTH_SMS_PROVIDER: 'console', AUTH_DEVELOPMENT_MODE: 'true' }, { logDestination: devLog });
    try {
      await dev.auth.sendSmsCode({ phoneNumber: '+4917600000001', purpose: LOGIN });
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await dev.close();
    }
    assert.match(devLog.text, codeLine, 'development mode: the developer reads the code in the log');

    const stagingLog = new CapturedLog();
    const staging = await startAuth(db.url, { ...keys, AUTH_SMS_PROVIDER: 'console', AUTH_SMS_CONSOLE_ALLOWED: 'true' }, { logDestination: stagingLog });
    try {
      await staging.auth.sendSmsCode({ phoneNumber: '+4917600000002', purpose: LOGIN });
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await staging.close();
    }
    assert.match(stagingLog.text, /SMS code not delivered/);
    assert.doesNotMatch(stagingLog.text, /Your im-mesh code is/);
    assert.ok(!stagingLog.text.includes('4917600000002'), 'nor the full number');
  });
});
