// SessionService over real gRPC against a real PostgreSQL: a user lists the
// sessions of their devices, ends one, or ends all but the current one; nobody
// can see or end another user's sessions, and bad input changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { uuidv7 } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { Status } from 'nice-grpc';
import { bearer, failureOf, login, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';
import { sessionClient } from './session-clients.js';

const PASSWORD = 'my devices, my rules';

describe('session management', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  let sessions: ReturnType<typeof sessionClient>['client'];
  let closeClient: () => void;
  const revokedIds = async () =>
    (await queryDb<{ id: string }>(db.url, 'SELECT id FROM auth.sessions WHERE revoked_at IS NOT NULL ORDER BY id')).map((row) => row.id);

  before(async () => {
    db = await createTestDatabase('auth_session_management');
    running = await startAuth(db.url);
    ({ client: sessions, close: closeClient } = sessionClient(running));
    await register(running.auth, 'rosa', PASSWORD);
    await register(running.auth, 'sven', PASSWORD);
  });

  after(async () => {
    closeClient?.();
    await running?.close();
    await db?.drop();
  });

  test('ListSessions shows each device login newest first, marks the current one, and hides other users', async () => {
    const laptop = await login(running.auth, 'rosa', PASSWORD, 'rosa-laptop');
    const phone = await login(running.auth, 'rosa', PASSWORD, 'rosa-phone');
    await login(running.auth, 'sven', PASSWORD, 'sven-phone');
    const { sessions: listed } = await sessions.listSessions({}, bearer(laptop.tokens!.accessToken));
    assert.deepEqual(
      listed.map((s) => [s.sessionId, s.deviceId, s.devicePlatform, s.current]),
      [
        [phone.sessionId, 'rosa-phone', 'web', false],
        [laptop.sessionId, 'rosa-laptop', 'web', true],
      ],
    );
    assert.ok(listed[0]!.createdAt instanceof Date && listed[0]!.lastRefreshedAt instanceof Date);
  });

  test('RevokeSession ends one device: its refresh token dies, the list shrinks, revoking again is fine', async () => {
    const tablet = await login(running.auth, 'rosa', PASSWORD, 'rosa-tablet');
    const desk = await login(running.auth, 'rosa', PASSWORD, 'rosa-desk');
    await sessions.revokeSession({ sessionId: tablet.sessionId }, bearer(desk.tokens!.accessToken));
    assert.equal((await failureOf(running.auth.refreshToken({ refreshToken: tablet.tokens!.refreshToken }))).code, Status.UNAUTHENTICATED);
    const { sessions: listed } = await sessions.listSessions({}, bearer(desk.tokens!.accessToken));
    assert.ok(!listed.some((s) => s.sessionId === tablet.sessionId));
    await sessions.revokeSession({ sessionId: tablet.sessionId }, bearer(desk.tokens!.accessToken));
  });

  test("another user's session is NOT_FOUND, a malformed id INVALID_ARGUMENT, and neither changes anything", async () => {
    const rosa = await login(running.auth, 'rosa', PASSWORD, 'rosa-watch');
    const sven = await login(running.auth, 'sven', PASSWORD, 'sven-laptop');
    const before = await revokedIds();
    const foreign = await failureOf(sessions.revokeSession({ sessionId: sven.sessionId }, bearer(rosa.tokens!.accessToken)));
    assert.equal(foreign.code, Status.NOT_FOUND);
    const unknown = await failureOf(sessions.revokeSession({ sessionId: uuidv7() }, bearer(rosa.tokens!.accessToken)));
    assert.deepEqual(unknown, foreign, 'a foreign session and a missing one must look the same');
    const malformed = await failureOf(sessions.revokeSession({ sessionId: "x' OR 1=1 --" }, bearer(rosa.tokens!.accessToken)));
    assert.equal(malformed.code, Status.INVALID_ARGUMENT);
    assert.deepEqual(await revokedIds(), before);
    // Sven's session still refreshes.
    await running.auth.refreshToken({ refreshToken: sven.tokens!.refreshToken });
  });

  test('RevokeAllSessions with keep_current signs out everywhere else; without it, the caller too', async () => {
    await register(running.auth, 'tove', PASSWORD);
    const devices = await Promise.all(['a', 'b', 'c'].map((d) => login(running.auth, 'tove', PASSWORD, `tove-${d}`)));
    const [keep, ...others] = devices;
    const { revokedCount } = await sessions.revokeAllSessions({ keepCurrent: true }, bearer(keep!.tokens!.accessToken));
    assert.equal(revokedCount, 2);
    for (const other of others) {
      assert.equal((await failureOf(running.auth.refreshToken({ refreshToken: other.tokens!.refreshToken }))).code, Status.UNAUTHENTICATED);
    }
    const { sessions: left } = await sessions.listSessions({}, bearer(keep!.tokens!.accessToken));
    assert.deepEqual(left.map((s) => s.sessionId), [keep!.sessionId]);

    const all = await sessions.revokeAllSessions({ keepCurrent: false }, bearer(keep!.tokens!.accessToken));
    assert.equal(all.revokedCount, 1);
    assert.equal((await failureOf(running.auth.refreshToken({ refreshToken: keep!.tokens!.refreshToken }))).code, Status.UNAUTHENTICATED);
  });

  test('without a token SessionService is UNAUTHENTICATED', async () => {
    assert.equal((await failureOf(sessions.listSessions({}))).code, Status.UNAUTHENTICATED);
  });
});
