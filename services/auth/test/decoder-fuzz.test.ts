// Fuzzing every public decoder of auth with fast-check: random and mutated
// protobuf bytes sent straight to each AuthService method by a raw grpc-js
// client (the server's own decoder sees them), and random and mutated JSON
// inside correctly encrypted login secrets (the payload parser sees them).
// Every call must end with a clean, expected status within its deadline (no
// INTERNAL, UNKNOWN or DEADLINE_EXCEEDED), auth must keep serving, and no row
// may be written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { authV1 } from '@im-mesh/contracts';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import fc from 'fast-check';
import { encryptFor, loginSecret, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';
import { newKey, smsConfig, startSmsInbox, type SmsInbox } from './sms-harness.js';

const CALL_DEADLINE_MS = 5_000;
/** Statuses a malformed or wrong request may end with; anything else is a defect. */
const CLEAN = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNAUTHENTICATED,
  grpc.status.ALREADY_EXISTS,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.FAILED_PRECONDITION,
]);
/** Methods that may answer OK to a random request: they write no rows. */
const MAY_SUCCEED = new Set(['GetLoginKey', 'SendSmsCode']);

const METHODS = Object.values(authV1.AuthServiceDefinition.methods)
  .filter((method) => !method.requestStream && !method.responseStream)
  .map((method) => method.name);

/** A valid request per method, as mutation seeds. */
const SEEDS: Record<string, Uint8Array> = {
  GetLoginKey: authV1.GetLoginKeyRequest.encode({ deviceId: 'laptop-1' }).finish(),
  Register: authV1.RegisterRequest.encode({ username: 'alice', password: { kid: 'k', ciphertext: new Uint8Array(384) }, deviceId: 'd', displayName: 'A' }).finish(),
  Login: authV1.LoginRequest.encode({ username: 'alice', password: { kid: 'k', ciphertext: new Uint8Array(384) }, deviceId: 'd', devicePlatform: 'web' }).finish(),
  RefreshToken: authV1.RefreshTokenRequest.encode({ refreshToken: 'x'.repeat(43) }).finish(),
  Logout: authV1.LogoutRequest.encode({}).finish(),
  SendSmsCode: authV1.SendSmsCodeRequest.encode({ phoneNumber: '+4915112345678', purpose: 2 }).finish(),
  RegisterWithSmsCode: authV1.RegisterWithSmsCodeRequest.encode({ phoneNumber: '+4915112345678', code: '123456', username: 'bob', displayName: '', deviceId: 'd', devicePlatform: '' }).finish(),
  LoginWithSmsCode: authV1.LoginWithSmsCodeRequest.encode({ phoneNumber: '+4915112345678', code: '123456', deviceId: 'd', devicePlatform: '' }).finish(),
  ResetPasswordWithSmsCode: authV1.ResetPasswordWithSmsCodeRequest.encode({ phoneNumber: '+4915112345678', code: '123456', deviceId: 'd', newPassword: { kid: 'k', ciphertext: new Uint8Array(8) } }).finish(),
};

/** Random bytes, or a seed with some bytes replaced and maybe cut short. */
const requestBytes = (method: string) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc
      .record({
        flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        cut: fc.option(fc.nat(), { nil: undefined }),
      })
      .map(({ flips, cut }) => {
        const bytes = Buffer.from(SEEDS[method] ?? new Uint8Array());
        for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
        return cut === undefined || bytes.length === 0 ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
      }),
  );

describe('decoder fuzzing', () => {
  let db: TestDatabase;
  let inbox: SmsInbox;
  let running: RunningAuth;
  let raw: grpc.Client;

  const rowCounts = async () =>
    (
      await queryDb<Record<string, string>>(
        db.url,
        `SELECT (SELECT count(*) FROM auth.users) AS users, (SELECT count(*) FROM auth.credentials) AS credentials,
                (SELECT count(*) FROM auth.user_contacts) AS contacts, (SELECT count(*) FROM auth.sessions) AS sessions,
                (SELECT count(*) FROM auth.devices) AS devices`,
      )
    )[0];

  const call = (method: string, body: Buffer) =>
    new Promise<grpc.status>((resolve) => {
      raw.makeUnaryRequest(
        `/${authV1.AuthServiceDefinition.fullName}/${method}`,
        (value: Buffer) => value,
        (value: Buffer) => value,
        body,
        { deadline: Date.now() + CALL_DEADLINE_MS },
        (error) => resolve(error ? error.code : grpc.status.OK),
      );
    });

  before(async () => {
    db = await createTestDatabase('auth_fuzz');
    inbox = await startSmsInbox();
    running = await startAuth(db.url, {
      ...smsConfig(inbox, { fieldKeys: `k:${newKey()}`, current: 'k', blindIndexKey: newKey() }),
      // Let fuzzed calls reach the decoders and checks behind the limits.
      AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: '100000/60',
      AUTH_LOGIN_LIMIT_PER_ACCOUNT: '100000/60',
      AUTH_LOGIN_LIMIT_PER_ADDRESS: '100000/60',
      AUTH_SMS_LIMIT_PER_ADDRESS: '100000/60',
      AUTH_SMS_LIMIT_PER_COUNTRY: '100000/60',
    });
    await register(running.auth, 'alice', 'alice has a long passphrase');
    raw = new grpc.Client(running.service.grpcAddress, grpc.credentials.createInsecure());
  });
  after(async () => {
    raw?.close();
    await running?.close();
    await inbox?.close();
    await db?.drop();
  });

  test('random and mutated protobuf bytes to every AuthService method: clean statuses, no hang, no rows written', async () => {
    const before = await rowCounts();
    const seen: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS).chain((method) => fc.tuple(fc.constant(method), requestBytes(method))),
        async ([method, bytes]) => {
          const status = await call(method, Buffer.from(bytes));
          seen[grpc.status[status]] = (seen[grpc.status[status]] ?? 0) + 1;
          assert.ok(CLEAN.has(status), `${method} answered ${grpc.status[status]} to ${Buffer.from(bytes).toString('hex').slice(0, 120)}`);
          if (status === grpc.status.OK) assert.ok(MAY_SUCCEED.has(method), `${method} accepted random bytes`);
        },
      ),
      { numRuns: 400 },
    );
    console.log(`statuses over 400 fuzzed calls: ${JSON.stringify(seen)}`);
    assert.deepEqual(await rowCounts(), before, 'no partial write');
    // Still serving.
    assert.ok((await running.auth.getLoginKey({ deviceId: 'after-fuzz' })).nonce);
  });

  test('random and mutated JSON inside a correctly encrypted login secret: refused cleanly, no rows written', async () => {
    const before = await rowCounts();
    // The valid shape, with each field sometimes replaced by any JSON value or left out.
    const payload = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
      fc
        .record(
          {
            password: fc.oneof(fc.string({ maxLength: 80 }), fc.jsonValue({ maxDepth: 2 })),
            nonce: fc.oneof(fc.constant('<nonce>'), fc.string({ maxLength: 60 }), fc.jsonValue({ maxDepth: 1 })),
            ts: fc.oneof(fc.constant('<now>'), fc.double(), fc.string({ maxLength: 10 }), fc.constant(null)),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(payload, fc.constantFrom('Login', 'Register'), async (template, method) => {
        const offer = await running.auth.getLoginKey({ deviceId: 'fuzz-device' });
        const plaintext = template.replace('"<nonce>"', JSON.stringify(offer.nonce)).replace('"<now>"', String(Date.now()));
        if (Buffer.byteLength(plaintext) > 318) return; // RSA-OAEP(SHA-256) with 3072-bit keys carries at most 318 bytes
        const secret = { kid: offer.kid, ciphertext: encryptFor(offer.publicKeyPem, plaintext) };
        const request =
          method === 'Login'
            ? authV1.LoginRequest.encode({ username: 'alice', password: secret, deviceId: 'fuzz-device', devicePlatform: '' }).finish()
            : // A taken username: even a payload that happens to be valid cannot create an account.
              authV1.RegisterRequest.encode({ username: 'alice', password: secret, deviceId: 'fuzz-device', displayName: '' }).finish();
        const status = await call(method, Buffer.from(request));
        const expected = method === 'Login' ? [grpc.status.UNAUTHENTICATED] : [grpc.status.INVALID_ARGUMENT, grpc.status.ALREADY_EXISTS];
        assert.ok(expected.includes(status), `${method} answered ${grpc.status[status]} to ${plaintext.slice(0, 100)}`);
      }),
      { numRuns: 100 },
    );
    assert.deepEqual(await rowCounts(), before, 'no partial write');
    // A real login still works afterwards.
    const secret = await loginSecret(running.auth, 'd', 'alice has a long passphrase');
    assert.ok((await running.auth.login({ username: 'alice', password: secret, deviceId: 'd', devicePlatform: '' })).tokens);
  });
});
