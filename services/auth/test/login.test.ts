// Login over real gRPC against a real PostgreSQL: the happy path with a token
// that verifies from the JWKS, and every way a login secret can be refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AccessTokenVerifier } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import jwt from 'jsonwebtoken';
import { Status } from 'nice-grpc';
import { failureOf, login, loginSecret, register, startAuth, type RunningAuth } from './auth-harness.js';

const PASSWORD = 'correct horse battery';

describe('login', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  let aliceId: string;

  before(async () => {
    db = await createTestDatabase('auth_login');
    // Many tries on one account from one address: the brute-force limits (tested
    // in brute-force.test.ts) are raised so they do not interfere here.
    running = await startAuth(db.url, {
      AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: '1000/60',
      AUTH_LOGIN_LIMIT_PER_ACCOUNT: '1000/60',
      AUTH_LOGIN_LIMIT_PER_ADDRESS: '1000/60',
    });
    ({ userId: aliceId } = await register(running.auth, 'Alice', PASSWORD));
  });

  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('a registered user logs in and the access token verifies against GetJwks', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await login(running.auth, 'alice', PASSWORD, 'laptop-1');
    assert.equal(result.userId, aliceId, 'login is case-insensitive on the username');
    const tokens = result.tokens!;
    assert.ok(tokens.accessToken && tokens.refreshToken);
    assert.notEqual(tokens.accessToken, tokens.refreshToken);

    const { jwksJson } = await running.keys.getJwks({});
    const verifier = new AccessTokenVerifier({ issuer: 'im-mesh', audience: 'im-mesh', source: async () => JSON.parse(jwksJson) });
    const claims = await verifier.verify(tokens.accessToken);
    assert.deepEqual(
      { userId: claims.userId, sessionId: claims.sessionId, deviceId: claims.deviceId },
      { userId: aliceId, sessionId: result.sessionId, deviceId: 'laptop-1' },
    );

    const decoded = jwt.decode(tokens.accessToken, { complete: true })!;
    const payload = decoded.payload as jwt.JwtPayload;
    assert.deepEqual(decoded.header, { alg: 'RS256', typ: 'at+jwt', kid: JSON.parse(jwksJson).keys[0].kid });
    assert.equal(payload.iss, 'im-mesh');
    assert.equal(payload.aud, 'im-mesh');
    assert.ok(payload.iat! >= before && payload.nbf === payload.iat);
    assert.equal(payload.exp, payload.iat! + 900, 'access tokens live 15 minutes by default');
    assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
    assert.equal(tokens.accessTokenExpiresAt!.getTime(), payload.exp! * 1000);
    const refreshDays = (tokens.refreshTokenExpiresAt!.getTime() - Date.now()) / 86_400_000;
    assert.ok(refreshDays > 29.9 && refreshDays <= 30, `refresh token lives 30 days, got ${refreshDays}`);
  });

  test('a replayed login ciphertext is refused', async () => {
    const secret = await loginSecret(running.auth, 'laptop-1', PASSWORD);
    const request = { username: 'alice', password: secret, deviceId: 'laptop-1', devicePlatform: 'web' };
    await running.auth.login(request);
    const replay = await failureOf(running.auth.login(request));
    assert.equal(replay.code, Status.UNAUTHENTICATED);
  });

  test("a nonce issued to another device does not work, and is burnt by the attempt", async () => {
    const secret = await loginSecret(running.auth, 'phone-9', PASSWORD);
    const stolen = await failureOf(running.auth.login({ username: 'alice', password: secret, deviceId: 'laptop-1', devicePlatform: '' }));
    assert.equal(stolen.code, Status.UNAUTHENTICATED);
    const owner = await failureOf(running.auth.login({ username: 'alice', password: secret, deviceId: 'phone-9', devicePlatform: '' }));
    assert.equal(owner.code, Status.UNAUTHENTICATED);
  });

  test('a timestamp outside the 60 s login window is refused, in the past or the future', async () => {
    for (const ts of [Date.now() - 120_000, Date.now() + 120_000]) {
      const secret = await loginSecret(running.auth, 'laptop-1', PASSWORD, { ts });
      const stale = await failureOf(running.auth.login({ username: 'alice', password: secret, deviceId: 'laptop-1', devicePlatform: '' }));
      assert.equal(stale.code, Status.UNAUTHENTICATED);
    }
    // Well inside the window is fine.
    const secret = await loginSecret(running.auth, 'laptop-1', PASSWORD, { ts: Date.now() - 30_000 });
    await running.auth.login({ username: 'alice', password: secret, deviceId: 'laptop-1', devicePlatform: '' });
  });

  test('wrong password, unknown user, garbage ciphertext and bad nonces all give the same answer', async () => {
    const device = 'laptop-1';
    const attempt = async (username: string, password: Awaited<ReturnType<typeof loginSecret>> | undefined) =>
      failureOf(running.auth.login({ username, password, deviceId: device, devicePlatform: '' }));
    const { kid } = await running.auth.getLoginKey({ deviceId: device });
    const replayed = await loginSecret(running.auth, device, PASSWORD);
    await running.auth.login({ username: 'alice', password: replayed, deviceId: device, devicePlatform: '' });

    const failures = {
      wrongPassword: await attempt('alice', await loginSecret(running.auth, device, 'not the password')),
      unknownUser: await attempt('nobody-here', await loginSecret(running.auth, device, PASSWORD)),
      garbageCiphertext: await attempt('alice', { kid, ciphertext: randomBytes(384) }),
      unknownKid: await attempt('alice', { ...(await loginSecret(running.auth, device, PASSWORD)), kid: 'not-a-kid' }),
      missingSecret: await attempt('alice', undefined),
      madeUpNonce: await attempt('alice', await loginSecret(running.auth, device, PASSWORD, { nonce: randomBytes(32).toString('base64url') })),
      staleTimestamp: await attempt('alice', await loginSecret(running.auth, device, PASSWORD, { ts: Date.now() - 3_600_000 })),
      replayed: await attempt('alice', replayed),
    };
    const expected = failures.wrongPassword;
    assert.equal(expected.code, Status.UNAUTHENTICATED);
    assert.match(expected.message, /Login failed/);
    for (const [kind, failure] of Object.entries(failures)) assert.deepEqual(failure, expected, kind);
  });

  test('a username that breaks the username rules (NUL, control characters, too long) fails like an unknown user', async () => {
    const device = 'laptop-1';
    const unknownUsers = async () => {
      const body = await (await fetch(`http://${running.service.httpAddress}/metrics`)).text();
      return Number(/auth_login_attempts_total\{outcome="unknown_user"[^}]*\} (\d+)/.exec(body)?.[1] ?? 0);
    };
    const expected = await failureOf(
      running.auth.login({ username: 'alice', password: await loginSecret(running.auth, device, 'not the password'), deviceId: device, devicePlatform: '' }),
    );
    const before = await unknownUsers();
    const usernames = ['alice\u0000', '\u0000', 'al\nice', 'a'.repeat(1000), 'x'];
    for (const username of usernames) {
      const failure = await failureOf(
        running.auth.login({ username, password: await loginSecret(running.auth, device, PASSWORD), deviceId: device, devicePlatform: '' }),
      );
      assert.deepEqual(failure, expected, JSON.stringify(username));
    }
    assert.equal(await unknownUsers(), before + usernames.length, 'counted as unknown users, not as internal errors');
  });

  test('failed and successful logins are counted by outcome in /metrics', async () => {
    const body = await (await fetch(`http://${running.service.httpAddress}/metrics`)).text();
    assert.match(body, /auth_login_attempts_total\{outcome="success"[^}]*\} [1-9]/);
    assert.match(body, /auth_login_attempts_total\{outcome="wrong_password"[^}]*\} [1-9]/);
    assert.match(body, /auth_login_attempts_total\{outcome="unknown_user"[^}]*\} [1-9]/);
    assert.match(body, /auth_registrations_total\{outcome="created"[^}]*\} 1/);
  });
});
