// Registration over real gRPC against a real PostgreSQL: what gets stored, and
// that refused registrations store nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { Status } from 'nice-grpc';
import { failureOf, loginSecret, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';

const PASSWORD = 'a long enough secret';

describe('registration', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  const counts = async () =>
    (await queryDb<{ users: number; credentials: number }>(
      db.url,
      'SELECT (SELECT count(*)::int FROM auth.users) AS users, (SELECT count(*)::int FROM auth.credentials) AS credentials',
    ))[0]!;

  before(async () => {
    db = await createTestDatabase('auth_register');
    running = await startAuth(db.url);
  });

  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('a new account keeps an argon2id hash of the password, never the password itself', async () => {
    const { userId } = await register(running.auth, 'Bob.Builder', PASSWORD);
    const [row] = await queryDb<{ username: string; display_name: string; password_hash: string }>(
      db.url,
      'SELECT u.username, u.display_name, c.password_hash FROM auth.users u JOIN auth.credentials c ON c.user_id = u.id WHERE u.id = $1',
      [userId],
    );
    assert.equal(row?.username, 'Bob.Builder');
    assert.equal(row?.display_name, 'Bob.Builder', 'the display name defaults to the username');
    assert.ok(row.password_hash.startsWith('$argon2id$v=19$m=19456,t=2,p=1$'), row.password_hash);
    assert.ok(!row.password_hash.includes(PASSWORD));
  });

  test('a taken username, in any letter case, is ALREADY_EXISTS and stores nothing', async () => {
    await register(running.auth, 'carol', PASSWORD);
    const stored = await counts();
    for (const username of ['carol', 'CAROL']) {
      const failure = await failureOf(register(running.auth, username, 'another password'));
      assert.equal(failure.code, Status.ALREADY_EXISTS);
      assert.match(failure.message, /already taken/);
    }
    assert.deepEqual(await counts(), stored);
  });

  test('an invalid username, password or display name is INVALID_ARGUMENT naming the field, and stores nothing', async () => {
    const stored = await counts();
    const attempt = async (username: string, password: string, displayName = '') => {
      const secret = await loginSecret(running.auth, 'laptop-1', password);
      return failureOf(running.auth.register({ username, password: secret, deviceId: 'laptop-1', displayName }));
    };
    const cases: Array<[string, Promise<{ code: number; message: string }>, RegExp]> = [
      ['too short', attempt('ab', PASSWORD), /^username /],
      ['too long', attempt('u'.repeat(33), PASSWORD), /^username /],
      ['a space', attempt('has space', PASSWORD), /^username /],
      ['non-ASCII letter', attempt('émile', PASSWORD), /^username /],
      ['NUL in username', attempt('da\u0000ve', PASSWORD), /^username /],
      ['NUL in display name', attempt('dave', PASSWORD, 'Da\u0000ve'), /^display_name /],
      ['short password', attempt('dave', 'seven77'), /^password /],
      ['long password', attempt('dave', 'p'.repeat(129)), /^password /],
      ['long display name', attempt('dave', PASSWORD, 'd'.repeat(65)), /^display_name /],
    ];
    for (const [label, failure, field] of cases) {
      const { code, message } = await failure;
      assert.equal(code, Status.INVALID_ARGUMENT, label);
      assert.match(message, field, label);
    }
    const missingDevice = await failureOf(running.auth.register({ username: 'dave', password: undefined, deviceId: '', displayName: '' }));
    assert.equal(missingDevice.code, Status.INVALID_ARGUMENT);
    assert.match(missingDevice.message, /^device_id /);
    assert.deepEqual(await counts(), stored);
  });

  test('a registration whose encrypted password cannot be opened is refused and stores nothing', async () => {
    const stored = await counts();
    const secret = await loginSecret(running.auth, 'phone-2', PASSWORD);
    const foreign = await failureOf(running.auth.register({ username: 'erin', password: secret, deviceId: 'laptop-1', displayName: '' }));
    assert.equal(foreign.code, Status.INVALID_ARGUMENT);
    assert.match(foreign.message, /^password could not be read/);
    assert.deepEqual(await counts(), stored);
  });

  test('passwords of exactly 8 and 128 characters are accepted', async () => {
    await register(running.auth, 'frank', 'k7#Qz!9v');
    await register(running.auth, 'grace', 'g'.repeat(128));
  });
});
