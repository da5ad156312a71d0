// Refresh-token rotation with a grace window (RFC 9700 4.14), over real gRPC
// against a real PostgreSQL: a client whose refresh answer was lost presents the
// previous token again and gets the very same pair; outside the window, or once
// the new pair was used, the same presentation is reuse and revokes the session.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { Status } from 'nice-grpc';
import { failureOf, login, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';

const PASSWORD = 'lost answers happen';
const GRACE_SECONDS = 2;

describe('refresh-token grace window', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  const refresh = (refreshToken: string) => running.auth.refreshToken({ refreshToken });
  const sessionRevoked = async (sessionId: string) =>
    (await queryDb<{ revoked: boolean }>(db.url, 'SELECT revoked_at IS NOT NULL AS revoked FROM auth.sessions WHERE id = $1', [sessionId]))[0]!.revoked;
  const tokenRows = async (sessionId: string) =>
    (await queryDb<{ n: string }>(db.url, 'SELECT count(*) AS n FROM auth.refresh_tokens WHERE session_id = $1', [sessionId]))[0]!.n;

  before(async () => {
    db = await createTestDatabase('auth_refresh_grace');
    running = await startAuth(db.url, { AUTH_REFRESH_REUSE_GRACE_SECONDS: String(GRACE_SECONDS) });
    await register(running.auth, 'grace', PASSWORD);
  });

  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('inside the window the previous token returns the same pair, which keeps working', async () => {
    const { sessionId, tokens } = await login(running.auth, 'grace', PASSWORD, 'phone-1');
    const first = await refresh(tokens!.refreshToken);
    const rowsAfterRotation = await tokenRows(sessionId);
    // The answer was lost; the client retries with what it still has.
    const retried = await refresh(tokens!.refreshToken);
    assert.deepEqual(retried.tokens, first.tokens, 'the retry must get the same access and refresh token');
    assert.equal(await tokenRows(sessionId), rowsAfterRotation, 'a retry must not mint anything');
    assert.equal(await sessionRevoked(sessionId), false);
    // The pair is the live one: it rotates normally.
    const next = await refresh(retried.tokens!.refreshToken);
    assert.notEqual(next.tokens!.refreshToken, first.tokens!.refreshToken);
    assert.equal(await sessionRevoked(sessionId), false);
  });

  test('inside the window, but after the new pair was used, the previous token is reuse: the session is revoked', async () => {
    const { sessionId, tokens } = await login(running.auth, 'grace', PASSWORD, 'phone-2');
    const second = (await refresh(tokens!.refreshToken)).tokens!.refreshToken;
    const third = (await refresh(second)).tokens!.refreshToken;
    // `tokens.refreshToken` was rotated a moment ago, but its successor is spent:
    // only a copy explains it coming back.
    const replay = await failureOf(refresh(tokens!.refreshToken));
    assert.equal(replay.code, Status.UNAUTHENTICATED);
    assert.equal(await sessionRevoked(sessionId), true);
    assert.equal((await failureOf(refresh(third))).code, Status.UNAUTHENTICATED, 'the newest token of the family must die too');
  });

  test('outside the window the previous token is reuse: the whole family is revoked', async () => {
    const { sessionId, tokens } = await login(running.auth, 'grace', PASSWORD, 'phone-3');
    const next = (await refresh(tokens!.refreshToken)).tokens!;
    await sleep(GRACE_SECONDS * 1000 + 500);
    const replay = await failureOf(refresh(tokens!.refreshToken));
    assert.equal(replay.code, Status.UNAUTHENTICATED);
    assert.match(replay.message, /refresh token is invalid, expired or revoked/);
    assert.equal(await sessionRevoked(sessionId), true);
    assert.equal((await failureOf(refresh(next.refreshToken))).code, Status.UNAUTHENTICATED);
    const sealedLeft = await queryDb<{ n: string }>(
      db.url,
      'SELECT count(*) AS n FROM auth.refresh_tokens WHERE session_id = $1 AND successor_sealed IS NOT NULL',
      [sessionId],
    );
    assert.equal(Number(sealedLeft[0]!.n), 0, 'a revoked session must not keep a sealed pair');
  });

  test('the stored successor pair is sealed: no token appears in clear in the database', async () => {
    const { sessionId, tokens } = await login(running.auth, 'grace', PASSWORD, 'phone-4');
    const next = (await refresh(tokens!.refreshToken)).tokens!;
    const rows = await queryDb<{ sealed: Buffer | null }>(db.url, 'SELECT successor_sealed AS sealed FROM auth.refresh_tokens WHERE session_id = $1', [sessionId]);
    const stored = Buffer.concat(rows.map((row) => row.sealed ?? Buffer.alloc(0)));
    assert.ok(stored.length > 0, 'the rotated token keeps its sealed successor');
    for (const secret of [next.refreshToken, next.accessToken, tokens!.refreshToken]) {
      assert.equal(stored.includes(Buffer.from(secret)), false, 'a token was stored in clear');
    }
  });
});
