// Keys, the JWKS, the user directory and restarts, over real gRPC and HTTP
// against a real PostgreSQL.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { uuidv7 } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { bearer, login, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';
import { authMigrations } from '../src/storage/migrations/index.js';

const PASSWORD = 'keys keep their ids';

describe('keys, directory and restart', () => {
  let db: TestDatabase;
  let running: RunningAuth;

  before(async () => {
    db = await createTestDatabase('auth_keys');
    running = await startAuth(db.url);
  });

  after(async () => {
    await running?.close();
    await db?.drop();
  });

  test('GetLoginKey hands out a 3072-bit RSA public key and a fresh 32-byte nonce every time', async () => {
    const first = await running.auth.getLoginKey({ deviceId: 'laptop-1' });
    const second = await running.auth.getLoginKey({ deviceId: 'laptop-1' });
    const key = createPublicKey(first.publicKeyPem);
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 3072);
    assert.equal(first.kid, second.kid);
    assert.match(first.nonce, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(first.nonce, second.nonce);
    const ttl = first.nonceExpiresAt!.getTime() - first.serverTime!.getTime();
    assert.equal(ttl, 120_000, 'nonces live 120 s by default');
  });

  test('the JWKS over HTTP equals GetJwks and holds only the public signing key', async () => {
    const { jwksJson } = await running.keys.getJwks({});
    const response = await fetch(`http://${running.service.httpAddress}/.well-known/jwks.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const overHttp = await response.json();
    assert.deepEqual(overHttp, JSON.parse(jwksJson));

    const { keys } = overHttp as { keys: Array<Record<string, string>> };
    assert.equal(keys.length, 1);
    const [jwk] = keys;
    assert.deepEqual(Object.keys(jwk!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.deepEqual([jwk!.kty, jwk!.alg, jwk!.use], ['RSA', 'RS256', 'sig']);
    const { kid: loginKid } = await running.auth.getLoginKey({ deviceId: 'laptop-1' });
    assert.notEqual(jwk!.kid, loginKid, 'signing and login decryption use different keys');
  });

  test('the ops endpoints answer next to the JWKS', async () => {
    for (const path of ['/healthz', '/readyz']) {
      assert.equal((await fetch(`http://${running.service.httpAddress}${path}`)).status, 200, path);
    }
  });

  test('LookupUsers returns only existing, enabled users and ignores ids that are not UUIDs', async () => {
    const { userId: ivan } = await register(running.auth, 'ivan', PASSWORD);
    const judy = await register(running.auth, 'judy', PASSWORD);
    const { userId: mallory } = await register(running.auth, 'mallory', PASSWORD);
    await queryDb(db.url, 'UPDATE auth.users SET disabled_at = now() WHERE id = $1', [mallory]);

    const { users } = await running.directory.lookupUsers({
      userIds: [ivan, judy.userId, ivan, mallory, uuidv7(), 'not-a-uuid', "'; DROP TABLE users; --", ''],
    });
    const found = users.map((u) => ({ userId: u.userId, username: u.username, displayName: u.displayName }));
    found.sort((a, b) => a.username.localeCompare(b.username));
    assert.deepEqual(found, [
      { userId: ivan, username: 'ivan', displayName: 'ivan' },
      { userId: judy.userId, username: 'judy', displayName: 'judy' },
    ]);
    assert.deepEqual((await running.directory.lookupUsers({ userIds: [] })).users, []);
  });

  test('a restart on the same database keeps both kids, old tokens still verify, migrations are not re-run', async () => {
    await register(running.auth, 'ken', PASSWORD);
    const { tokens } = await login(running.auth, 'ken', PASSWORD);
    const loginKidBefore = (await running.auth.getLoginKey({ deviceId: 'laptop-1' })).kid;
    const jwksBefore = (await running.keys.getJwks({})).jwksJson;

    await running.close();
    running = await startAuth(db.url);

    assert.equal((await running.auth.getLoginKey({ deviceId: 'laptop-1' })).kid, loginKidBefore);
    assert.equal((await running.keys.getJwks({})).jwksJson, jwksBefore);
    // Logout needs a valid access token: one signed before the restart still is.
    await running.auth.logout({}, bearer(tokens!.accessToken));

    const migrations = await queryDb<{ name: string }>(db.url, 'SELECT name FROM auth.migrations ORDER BY id');
    // Each migration once, in order, whatever later issues add.
    assert.deepEqual(migrations.map((m) => m.name), authMigrations.map((Migration) => new Migration().name));
    const keys = await queryDb<{ purpose: string }>(db.url, 'SELECT purpose FROM auth.keys ORDER BY purpose');
    assert.deepEqual(keys.map((k) => k.purpose), ['login', 'signing']);
  });
});
