// SMS sign-up on the embedded default, as a developer runs it: `npm start` with
// the console SMS provider in development mode. The field keys that seal phone
// numbers are generated on first start in IM_VAR_DIR and reused afterwards, so
// a number registered before a restart still logs in after it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { createChannel, createClient } from 'nice-grpc';
import { createTestDatabase, FREE_PORTS, type TestDatabase } from '@im-mesh/platform/testing';
import { startAllInOne } from '../src/all-in-one.js';

describe('SMS sign-up on the embedded default (console provider, development mode)', () => {
  let varDir: string;
  let database: TestDatabase;
  before(async () => {
    varDir = await mkdtemp(join(tmpdir(), 'im-sms-'));
    database = await createTestDatabase('aio_sms');
  });
  after(async () => {
    await database?.drop();
    await rm(varDir, { recursive: true, force: true });
  });

  /** Starts the all-in-one on the shared state; the log text grows as it runs. */
  async function start() {
    const sink = new PassThrough();
    let log = '';
    sink.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    const mesh = await startAllInOne(
      { ...FREE_PORTS, DATABASE_URL: database.url, IM_VAR_DIR: varDir, AUTH_SMS_PROVIDER: 'console', AUTH_DEVELOPMENT_MODE: 'true', LOG_LEVEL: 'info' },
      { logDestination: sink },
    );
    const channel = createChannel(mesh.url.replace('http://', ''));
    const auth = createClient(authV1.AuthServiceDefinition, channel);
    /** Asks for a code and reads it from the development log line. */
    const codeFor = async (phoneNumber: string, purpose: authV1.SmsCodePurpose) => {
      const before = log.length;
      await auth.sendSmsCode({ phoneNumber, purpose });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const code = /development SMS to [^:]+: \D*(\d{6})/.exec(log.slice(before))?.[1];
        if (code) return code;
        if (Date.now() > deadline) throw new Error('no development SMS line in the log');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    return {
      auth,
      codeFor,
      async stop() {
        channel.close();
        await mesh.stop();
      },
    };
  }

  test('register with a phone number and a code, restart, then log in with a new code', async () => {
    const phone = '+15555550123';
    const first = await start();
    let userId: string;
    try {
      const code = await first.codeFor(phone, authV1.SmsCodePurpose.SMS_CODE_PURPOSE_REGISTER);
      const registered = await first.auth.registerWithSmsCode({ phoneNumber: phone, code, username: 'smsuser', displayName: '', deviceId: 'phone-1', devicePlatform: 'ios' });
      userId = registered.userId;
      assert.ok(registered.tokens?.accessToken, 'registering logs the device in');
    } finally {
      await first.stop();
    }

    const keyFile = join(varDir, 'auth-field-keys.json');
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600, 'the generated keys are readable by their owner only');
    const keys = JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(keys).sort(), ['AUTH_BLIND_INDEX_KEY', 'AUTH_FIELD_KEYS', 'AUTH_FIELD_KEY_CURRENT']);

    const second = await start();
    try {
      const code = await second.codeFor(phone, authV1.SmsCodePurpose.SMS_CODE_PURPOSE_LOGIN);
      const loggedIn = await second.auth.loginWithSmsCode({ phoneNumber: phone, code, deviceId: 'phone-2', devicePlatform: 'android' });
      assert.equal(loggedIn.userId, userId, 'the same keys found the number stored before the restart');
    } finally {
      await second.stop();
    }
  });
});
