// FindUser (internal UserDirectoryService): core's user search by exact
// username, in any letter case; disabled accounts and impossible names find nobody.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';

const PASSWORD = 'search finds people exactly';

describe('FindUser', () => {
  let db: TestDatabase;
  let running: RunningAuth;

  before(async () => {
    db = await createTestDatabase('auth_find_user');
    running = await startAuth(db.url);
  });
  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('finds a user by exact username in any letter case, and nobody for near misses, disabled accounts or impossible names', async () => {
    const { userId: olga } = await register(running.auth, 'Olga.K', PASSWORD);
    const { userId: disabled } = await register(running.auth, 'gone_user', PASSWORD);
    await queryDb(db.url, 'UPDATE auth.users SET disabled_at = now() WHERE id = $1', [disabled]);

    const byName = (value: string) => running.directory.findUser({ key: { $case: 'username', value } });
    assert.deepEqual((await byName('olga.k')).user, { userId: olga, username: 'Olga.K', displayName: 'Olga.K' });
    assert.equal((await byName('OLGA.K')).user?.userId, olga);
    assert.equal((await byName('olga')).user, undefined);
    assert.equal((await byName('olga%')).user, undefined);
    assert.equal((await byName('gone_user')).user, undefined);
    assert.equal((await byName("'; DROP TABLE users; --")).user, undefined);
    assert.equal((await running.directory.findUser({ key: undefined })).user, undefined);
  });
});
