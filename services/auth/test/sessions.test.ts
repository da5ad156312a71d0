// Sessions over real gRPC against a real PostgreSQL: refresh-token rotation,
// reuse detection and logout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccessTokenVerifier } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { Status } from 'nice-grpc';
import { bearer, failureOf, login, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';

const PASSWORD = 'sessions are fun';

describe('sessions', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  const refresh = (refreshToken: string) => running.auth.refreshToken({ refreshToken });
  const sessionRevoked = async (sessionId: string) =>
    (await queryDb<{ revoked: boolean }>(db.url, 'SELECT revoked_at IS NOT NULL AS revoked FROM auth.sessions WHERE id = $1', [sessionId]))[0]
      ?.revoked;

  before(async () => {
    db = await createTestDatabase('auth_sessions');
    // Grace off: here every return of a rotated token is reuse. The grace window
    // (the same pair again for a lost response) is tested in refresh-grace.test.ts.
    running = await startAuth(db.url, { AUTH_REFRESH_REUSE_GRACE_SECONDS: '0' });
    await register(running.auth, 'heidi', PASSWORD);
  });

  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('a refresh returns a new token pair and the old refresh token stops working', async () => {
    const { sessionId, tokens } = await login(running.auth, 'heidi', PASSWORD);
    const first = tokens!.refreshToken;
    const { tokens: next } = await refresh(first);
    assert.ok(next?.refreshToken && next.accessToken);
    assert.notEqual(next.refreshToken, first);
    assert.notEqual(next.accessToken, tokens!.accessToken);
    const { jwksJson } = await running.keys.getJwks({});
    const verifier = new AccessTokenVerifier({ issuer: 'im-mesh', audience: 'im-mesh', source: async () => JSON.parse(jwksJson) });
    assert.equal((await verifier.verify(next.accessToken)).sessionId, sessionId, 'the new access token belongs to the same session');
    const reused = await failureOf(refresh(first));
    assert.equal(reused.code, Status.UNAUTHENTICATED);
    assert.match(reused.message, /refresh token is invalid, expired or revoked/);
  });

  test('presenting a rotated refresh token revokes the session, so the newest token fails too', async () => {
    const { sessionId, tokens } = await login(running.auth, 'heidi', PASSWORD, 'tablet-3');
    const second = (await refresh(tokens!.refreshToken)).tokens!.refreshToken;
    const third = (await refresh(second)).tokens!.refreshToken;
    assert.equal(await sessionRevoked(sessionId), false, 'a chain of honest refreshes keeps the session');

    assert.equal((await failureOf(refresh(second))).code, Status.UNAUTHENTICATED);
    assert.equal(await sessionRevoked(sessionId), true);
    assert.equal((await failureOf(refresh(third))).code, Status.UNAUTHENTICATED);
  });

  test('logout revokes the session: its refresh token stops working, other devices keep theirs', async () => {
    const laptop = await login(running.auth, 'heidi', PASSWORD, 'laptop-1');
    const phone = await login(running.auth, 'heidi', PASSWORD, 'phone-1');
    await running.auth.logout({}, bearer(laptop.tokens!.accessToken));
    assert.equal(await sessionRevoked(laptop.sessionId), true);
    assert.equal((await failureOf(refresh(laptop.tokens!.refreshToken))).code, Status.UNAUTHENTICATED);
    await refresh(phone.tokens!.refreshToken);
    // Logging out again with the same (still unexpired) access token is harmless.
    await running.auth.logout({}, bearer(laptop.tokens!.accessToken));
  });

  test('logout without a valid access token is UNAUTHENTICATED', async () => {
    assert.equal((await failureOf(running.auth.logout({}))).code, Status.UNAUTHENTICATED);
    assert.equal((await failureOf(running.auth.logout({}, bearer('not.a.jwt')))).code, Status.UNAUTHENTICATED);
  });

  test('an expired, unknown or malformed refresh token is UNAUTHENTICATED with one message', async () => {
    const { sessionId, tokens } = await login(running.auth, 'heidi', PASSWORD, 'old-pc');
    await queryDb(db.url, "UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 second' WHERE session_id = $1", [sessionId]);
    const failures = [
      await failureOf(refresh(tokens!.refreshToken)),
      await failureOf(refresh('A'.repeat(43))),
      await failureOf(refresh('')),
      await failureOf(refresh('x'.repeat(5000))),
    ];
    for (const failure of failures) assert.deepEqual(failure, failures[0]);
    assert.equal(failures[0]!.code, Status.UNAUTHENTICATED);
  });

  test('the device is recorded with its platform and a refresh updates when it was last seen', async () => {
    const { tokens } = await login(running.auth, 'heidi', PASSWORD, 'desk-7');
    const seen = async () =>
      (await queryDb<{ platform: string; last_seen_at: Date }>(db.url, "SELECT platform, last_seen_at FROM auth.devices WHERE device_id = 'desk-7'"))[0]!;
    const before = await seen();
    assert.equal(before.platform, 'web');
    await refresh(tokens!.refreshToken);
    assert.ok((await seen()).last_seen_at.getTime() >= before.last_seen_at.getTime());
  });
});
