// Auth's RSA keys at rest and in rotation, against a real PostgreSQL: private
// keys are stored sealed (AES-256-GCM) under the key-encryption key from config,
// survive restarts, refuse to open under the wrong KEK or on another row, move to
// a new KEK, and rotate without logging anyone out.
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AccessTokenVerifier, createLogger } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { loadAuthConfig } from '../src/config.js';
import { rotateAuthKey } from '../src/keys/key-rotation.js';
import { SecretSealer, UnsealError } from '../src/keys/secret-sealer.js';
import { bearer, login, loginSecret, queryDb, register, startAuth } from './auth-harness.js';
import { sessionClient } from './session-clients.js';

const PASSWORD = 'keys stay secret';
const kekText = () => randomBytes(32).toString('base64');

interface KeyRow {
  kid: string;
  purpose: string;
  private_key_pem: string | null;
  private_key_sealed: Buffer | null;
  retired_at: Date | null;
}

describe('SecretSealer', () => {
  const kek = randomBytes(32);
  const sealer = new SecretSealer([kek]);

  test('opens what it sealed only with the same associated data and an untouched ciphertext', () => {
    const sealed = sealer.seal(Buffer.from('secret pem'), 'auth.keys:signing:kid-1');
    assert.equal(sealer.unseal(sealed, 'auth.keys:signing:kid-1').toString(), 'secret pem');
    assert.throws(() => sealer.unseal(sealed, 'auth.keys:login:kid-1'), UnsealError, 'copied to another row');
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    assert.throws(() => sealer.unseal(tampered, 'auth.keys:signing:kid-1'), UnsealError, 'tampered');
    assert.throws(() => new SecretSealer([randomBytes(32)]).unseal(sealed, 'auth.keys:signing:kid-1'), /not configured/);
  });

  test('a new KEK seals, the old one still opens, and stale values are recognised', () => {
    const oldSealed = sealer.seal(Buffer.from('x'), 'ad');
    const rotated = new SecretSealer([randomBytes(32), kek]);
    assert.equal(rotated.unseal(oldSealed, 'ad').toString(), 'x');
    assert.equal(rotated.isStale(oldSealed), true);
    assert.equal(rotated.isStale(rotated.seal(Buffer.from('x'), 'ad')), false);
  });
});

describe('keys at rest and rotation', () => {
  let db: TestDatabase;
  const firstKek = kekText();
  const keyRows = () =>
    queryDb<KeyRow>(db.url, 'SELECT kid, purpose, private_key_pem, private_key_sealed, retired_at FROM auth.keys ORDER BY created_at');

  before(async () => {
    db = await createTestDatabase('auth_keys_at_rest');
  });

  after(async () => {
    await db?.drop();
  });

  test('private keys are stored sealed, never as PEM, and open with the configured KEK', async () => {
    const running = await startAuth(db.url, { AUTH_KEY_ENCRYPTION_KEYS: firstKek });
    await running.close();
    const rows = await keyRows();
    assert.deepEqual(rows.map((row) => row.purpose).sort(), ['login', 'signing']);
    const sealer = new SecretSealer([Buffer.from(firstKek, 'base64')]);
    for (const row of rows) {
      assert.equal(row.private_key_pem, null);
      assert.ok(row.private_key_sealed);
      assert.equal(row.private_key_sealed.includes(Buffer.from('PRIVATE KEY')), false);
      const pem = sealer.unseal(row.private_key_sealed, `auth.keys:${row.purpose}:${row.kid}`).toString();
      assert.equal(createPrivateKey(pem).asymmetricKeyDetails?.modulusLength, 3072);
    }
  });

  test('a start with the wrong KEK fails with a clear error instead of making new keys', async () => {
    await assert.rejects(startAuth(db.url, { AUTH_KEY_ENCRYPTION_KEYS: kekText() }), /key-encryption key .* not configured/);
    assert.equal((await keyRows()).length, 2, 'no key may be generated over the unreadable ones');
  });

  test('a key stored in clear text by an older version is sealed at start and keeps its kid', async () => {
    const sealer = new SecretSealer([Buffer.from(firstKek, 'base64')]);
    const [login] = (await keyRows()).filter((row) => row.purpose === 'login');
    const pem = sealer.unseal(login!.private_key_sealed!, `auth.keys:login:${login!.kid}`).toString();
    await queryDb(db.url, 'UPDATE auth.keys SET private_key_pem = $2, private_key_sealed = NULL WHERE kid = $1', [login!.kid, pem]);
    const running = await startAuth(db.url, { AUTH_KEY_ENCRYPTION_KEYS: firstKek });
    assert.equal((await running.auth.getLoginKey({ deviceId: 'd' })).kid, login!.kid);
    await running.close();
    const after = (await keyRows()).find((row) => row.kid === login!.kid)!;
    assert.equal(after.private_key_pem, null);
    assert.ok(after.private_key_sealed);
  });

  test('moving to a new KEK (new first, old second) re-seals every key; then the new one alone works', async () => {
    const newKek = kekText();
    const kids = (await keyRows()).map((row) => row.kid);
    const moving = await startAuth(db.url, { AUTH_KEY_ENCRYPTION_KEYS: `${newKek},${firstKek}` });
    await moving.close();
    const newOnly = new SecretSealer([Buffer.from(newKek, 'base64')]);
    for (const row of await keyRows()) newOnly.unseal(row.private_key_sealed!, `auth.keys:${row.purpose}:${row.kid}`);
    const running = await startAuth(db.url, { AUTH_KEY_ENCRYPTION_KEYS: newKek });
    const loginKid = (await keyRows()).find((row) => row.purpose === 'login')!.kid;
    assert.equal((await running.auth.getLoginKey({ deviceId: 'd' })).kid, loginKid);
    await running.close();
    assert.deepEqual((await keyRows()).map((row) => row.kid), kids, 'the kids must not change');
  });
});

describe('key rotation without logging anyone out', () => {
  let db: TestDatabase;
  const kek = kekText();

  before(async () => {
    db = await createTestDatabase('auth_key_rotation');
  });

  after(async () => {
    await db?.drop();
  });

  test('after a login-key rotation, a secret encrypted to the old key still logs in; GetLoginKey hands out the new one', async () => {
    const overrides = { AUTH_KEY_ENCRYPTION_KEYS: kek, AUTH_KEY_RELOAD_INTERVAL_MS: '200' };
    const running = await startAuth(db.url, overrides);
    try {
      await register(running.auth, 'cached-key', PASSWORD);
      // The client fetched the key and nonce just before the rotation...
      const secret = await loginSecret(running.auth, 'phone', PASSWORD);
      const logger = createLogger({ service: 'rotate-test', level: 'silent' });
      const newKid = await rotateAuthKey(loadAuthConfig(overrides), db.url, 'login', logger);
      assert.notEqual(newKid, secret.kid);
      await sleep(600); // the running instance rereads its keys every 200 ms
      assert.equal((await running.auth.getLoginKey({ deviceId: 'phone' })).kid, newKid);
      // ...and logs in after it.
      const session = await running.auth.login({ username: 'cached-key', password: secret, deviceId: 'phone', devicePlatform: 'web' });
      assert.ok(session.tokens?.accessToken);
    } finally {
      await running.close();
    }
  });

  test('after a signing-key rotation, tokens of the old key still work, new ones carry the new kid, refresh goes on', async () => {
    const overrides = { AUTH_KEY_ENCRYPTION_KEYS: kek, AUTH_KEY_RELOAD_INTERVAL_MS: '200' };
    const running = await startAuth(db.url, overrides);
    const sessions = sessionClient(running);
    try {
      await register(running.auth, 'rotor', PASSWORD);
      const before = await login(running.auth, 'rotor', PASSWORD, 'phone');
      const oldKid = JSON.parse(Buffer.from(before.tokens!.accessToken.split('.')[0]!, 'base64url').toString()).kid;

      const logger = createLogger({ service: 'rotate-test', level: 'silent' });
      const newKid = await rotateAuthKey(loadAuthConfig(overrides), db.url, 'signing', logger);
      assert.notEqual(newKid, oldKid);
      await sleep(600); // the running instance rereads its keys every 200 ms

      const { jwksJson } = await running.keys.getJwks({});
      assert.deepEqual(JSON.parse(jwksJson).keys.map((key: { kid: string }) => key.kid).sort(), [oldKid, newKid].sort());
      // The token signed before the rotation is still accepted.
      await sessions.client.listSessions({}, bearer(before.tokens!.accessToken));
      const refreshed = await running.auth.refreshToken({ refreshToken: before.tokens!.refreshToken });
      const refreshedKid = JSON.parse(Buffer.from(refreshed.tokens!.accessToken.split('.')[0]!, 'base64url').toString()).kid;
      assert.equal(refreshedKid, newKid);
      const verifier = new AccessTokenVerifier({ issuer: 'im-mesh', audience: 'im-mesh', source: async () => JSON.parse(jwksJson) });
      assert.equal((await verifier.verify(refreshed.tokens!.accessToken)).sessionId, before.sessionId);
      assert.equal((await verifier.verify(before.tokens!.accessToken)).sessionId, before.sessionId);
      verifier.close();
    } finally {
      sessions.close();
      await running.close();
    }
  });
});
