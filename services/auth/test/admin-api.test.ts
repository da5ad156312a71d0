// The admin API and service accounts over real gRPC against a real PostgreSQL:
// an internal team's service account exchanges its id and secret for a service
// token and creates users, bans and unbans them, lists and ends their sessions.
// A user's token, a "service" account, a wrong secret: each is refused with the
// right status, and a refused call changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { uuidv7 } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { Status } from 'nice-grpc';
import { bearer, failureOf, login, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';
import { adminClients, sessionClient } from './session-clients.js';

const PASSWORD = 'admins are careful';
const ADMIN_SECRET = 'admin-secret-of-the-support-team-0123456789';
const SERVICE_SECRET = 'service-secret-of-the-core-service-0123456789';

describe('admin API and service accounts', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  let admin: ReturnType<typeof adminClients>;
  let adminToken: string;
  let serviceToken: string;
  const userCount = async () => Number((await queryDb<{ n: string }>(db.url, 'SELECT count(*) AS n FROM auth.users'))[0]!.n);

  before(async () => {
    db = await createTestDatabase('auth_admin_api');
    running = await startAuth(db.url, {
      AUTH_SERVICE_ACCOUNTS: `support-team:admin:${ADMIN_SECRET},core:service:${SERVICE_SECRET}`,
    });
    admin = adminClients(running);
    adminToken = (await admin.tokens.issueServiceToken({ clientId: 'support-team', clientSecret: ADMIN_SECRET })).serviceToken;
    serviceToken = (await admin.tokens.issueServiceToken({ clientId: 'core', clientSecret: SERVICE_SECRET })).serviceToken;
  });

  after(async () => {
    admin?.close();
    await running?.close();
    await db?.drop();
  });

  test('a service token is short-lived and typed; a wrong secret and an unknown id get the same answer', async () => {
    const grant = await admin.tokens.issueServiceToken({ clientId: 'support-team', clientSecret: ADMIN_SECRET });
    assert.equal(grant.expiresInSeconds, 300);
    const header = JSON.parse(Buffer.from(grant.serviceToken.split('.')[0]!, 'base64url').toString());
    assert.equal(header.typ, 'service+jwt');
    const wrongSecret = await failureOf(admin.tokens.issueServiceToken({ clientId: 'support-team', clientSecret: `${ADMIN_SECRET}x` }));
    const unknownId = await failureOf(admin.tokens.issueServiceToken({ clientId: 'nobody', clientSecret: ADMIN_SECRET }));
    assert.equal(wrongSecret.code, Status.UNAUTHENTICATED);
    assert.deepEqual(unknownId, wrongSecret);
  });

  test('CreateUser makes an account that can log in; a taken name is ALREADY_EXISTS; a common password INVALID_ARGUMENT', async () => {
    const { userId } = await admin.users.createUser({ username: 'created-by-support', password: PASSWORD, displayName: 'Created' }, bearer(adminToken));
    const session = await login(running.auth, 'created-by-support', PASSWORD, 'device-1');
    assert.equal(session.userId, userId);
    const count = await userCount();
    const taken = await failureOf(admin.users.createUser({ username: 'Created-By-Support', password: PASSWORD, displayName: '' }, bearer(adminToken)));
    assert.equal(taken.code, Status.ALREADY_EXISTS);
    const weak = await failureOf(admin.users.createUser({ username: 'weakling', password: 'password', displayName: '' }, bearer(adminToken)));
    assert.equal(weak.code, Status.INVALID_ARGUMENT);
    assert.equal(await userCount(), count, 'a refused CreateUser stored something');
  });

  test('who may call what: a user token, a "service" account and no token are refused and change nothing', async () => {
    const { userId } = await register(running.auth, 'eve', PASSWORD);
    const eve = await login(running.auth, 'eve', PASSWORD, 'eve-phone');
    const count = await userCount();
    const asUser = await failureOf(admin.users.banUser({ userId, reason: 'self-ban' }, bearer(eve.tokens!.accessToken)));
    assert.equal(asUser.code, Status.PERMISSION_DENIED, 'a user access token must never work on the admin API');
    const asService = await failureOf(admin.users.createUser({ username: 'sneaky', password: PASSWORD, displayName: '' }, bearer(serviceToken)));
    assert.equal(asService.code, Status.PERMISSION_DENIED);
    assert.match(asService.message, /users\.create/);
    const anonymous = await failureOf(admin.users.listUserSessions({ userId }));
    assert.equal(anonymous.code, Status.UNAUTHENTICATED);
    const session = sessionClient(running);
    try {
      const adminOnUserApi = await failureOf(session.client.listSessions({}, bearer(adminToken)));
      assert.equal(adminOnUserApi.code, Status.PERMISSION_DENIED, 'a service token is not a user');
    } finally {
      session.close();
    }
    assert.equal(await userCount(), count);
    const banned = await queryDb<{ n: string }>(db.url, 'SELECT count(*) AS n FROM auth.users WHERE banned_at IS NOT NULL AND id = $1', [userId]);
    assert.equal(Number(banned[0]!.n), 0);
    await running.auth.refreshToken({ refreshToken: eve.tokens!.refreshToken });
  });

  test('a ban ends every session; login and refresh say PERMISSION_DENIED with the reason; unban lets the user back', async () => {
    const { userId } = await register(running.auth, 'mallory', PASSWORD);
    const phone = await login(running.auth, 'mallory', PASSWORD, 'm-phone');
    const laptop = await login(running.auth, 'mallory', PASSWORD, 'm-laptop');
    const listed = await admin.users.listUserSessions({ userId }, bearer(adminToken));
    assert.deepEqual(listed.sessions.map((s) => s.sessionId).sort(), [phone.sessionId, laptop.sessionId].sort());

    const { revokedSessions } = await admin.users.banUser({ userId, reason: 'spam' }, bearer(adminToken));
    assert.equal(revokedSessions, 2);
    const refresh = await failureOf(running.auth.refreshToken({ refreshToken: phone.tokens!.refreshToken }));
    assert.equal(refresh.code, Status.PERMISSION_DENIED);
    assert.match(refresh.message, /banned.*spam/);
    const relogin = await failureOf(login(running.auth, 'mallory', PASSWORD, 'm-phone'));
    assert.equal(relogin.code, Status.PERMISSION_DENIED);
    assert.match(relogin.message, /banned.*spam/);
    assert.deepEqual((await admin.users.listUserSessions({ userId }, bearer(adminToken))).sessions, []);

    await admin.users.unbanUser({ userId }, bearer(adminToken));
    await login(running.auth, 'mallory', PASSWORD, 'm-phone');
    const unknown = await failureOf(admin.users.banUser({ userId: uuidv7(), reason: '' }, bearer(adminToken)));
    assert.equal(unknown.code, Status.NOT_FOUND);
    const longReason = await failureOf(admin.users.banUser({ userId, reason: 'x'.repeat(501) }, bearer(adminToken)));
    assert.equal(longReason.code, Status.INVALID_ARGUMENT);
  });

  test('ForceLogout ends one session or all of them', async () => {
    const { userId } = await register(running.auth, 'trent', PASSWORD);
    const one = await login(running.auth, 'trent', PASSWORD, 't-1');
    const two = await login(running.auth, 'trent', PASSWORD, 't-2');
    const three = await login(running.auth, 'trent', PASSWORD, 't-3');
    assert.equal((await admin.users.forceLogout({ userId, sessionId: one.sessionId }, bearer(adminToken))).revokedSessions, 1);
    assert.equal((await failureOf(running.auth.refreshToken({ refreshToken: one.tokens!.refreshToken }))).code, Status.UNAUTHENTICATED);
    await running.auth.refreshToken({ refreshToken: two.tokens!.refreshToken });
    assert.equal((await admin.users.forceLogout({ userId, sessionId: '' }, bearer(adminToken))).revokedSessions, 2);
    assert.equal((await failureOf(running.auth.refreshToken({ refreshToken: three.tokens!.refreshToken }))).code, Status.UNAUTHENTICATED);
  });
});
