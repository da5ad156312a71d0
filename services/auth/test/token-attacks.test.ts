// The token attacks of issue 4 against the real auth service over gRPC: every
// forged, tampered or misdirected access token gets the same UNAUTHENTICATED
// answer from SessionService and changes nothing. Tokens with valid signatures
// but wrong claims are signed with auth's own signing key, opened from the
// database with the test's key-encryption key (as a thief with both would).
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import jwt from 'jsonwebtoken';
import { Status } from 'nice-grpc';
import { SecretSealer } from '../src/keys/secret-sealer.js';
import { bearer, failureOf, login, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';
import { sessionClient } from './session-clients.js';

const PASSWORD = 'tokens are checked';
const KEK = randomBytes(32);
const REFUSED = 'The access token is invalid or expired. Log in again or refresh the token.';

describe('access-token attacks on the real auth service', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  let sessions: ReturnType<typeof sessionClient>['client'];
  let closeSessions: () => void;
  let signingKey: KeyObject;
  let signingKid: string;
  let publicPem: string;
  let claims: { sub: string; sid: string; did: string };
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    db = await createTestDatabase('auth_token_attacks');
    running = await startAuth(db.url, { AUTH_KEY_ENCRYPTION_KEYS: KEK.toString('base64') });
    ({ client: sessions, close: closeSessions } = sessionClient(running));
    const { userId } = await register(running.auth, 'ophelia', PASSWORD);
    const opened = await login(running.auth, 'ophelia', PASSWORD, 'phone-1');
    claims = { sub: userId, sid: opened.sessionId, did: 'phone-1' };
    const [row] = await queryDb<{ kid: string; private_key_sealed: Buffer; public_key_pem: string }>(
      db.url,
      `SELECT kid, private_key_sealed, public_key_pem FROM auth.keys WHERE purpose = 'signing' AND retired_at IS NULL`,
    );
    signingKid = row!.kid;
    publicPem = row!.public_key_pem;
    signingKey = createPrivateKey(new SecretSealer([KEK]).unseal(row!.private_key_sealed, `auth.keys:signing:${signingKid}`).toString('utf8'));
  });

  after(async () => {
    closeSessions?.();
    await running?.close();
    await db?.drop();
  });

  function signed(payload: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: KeyObject = signingKey): string {
    return jwt.sign({ ...claims, iss: 'im-mesh', aud: 'im-mesh', iat: now(), nbf: now(), exp: now() + 300, ...payload }, key, {
      algorithm: 'RS256',
      header: { alg: 'RS256', typ: 'at+jwt', kid: signingKid, ...header },
    });
  }

  function handMade(header: Record<string, unknown>, sign: (input: string) => string): string {
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${part(header)}.${part({ ...claims, iss: 'im-mesh', aud: 'im-mesh', iat: now(), exp: now() + 300 })}`;
    return `${input}.${sign(input)}`;
  }

  test('a genuine token lists the session (the baseline the attacks are measured against)', async () => {
    const { sessions: listed } = await sessions.listSessions({}, bearer(signed()));
    assert.deepEqual(listed.map((s) => s.sessionId), [claims.sid]);
  });

  test('every attack is UNAUTHENTICATED with one message, and the session survives all of them', async () => {
    const stranger = createPrivateKey(
      (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
    const attacks: Array<[string, string]> = [
      ['alg none', handMade({ alg: 'none', typ: 'at+jwt', kid: signingKid }, () => '')],
      ['HS256 signed with the public key', handMade({ alg: 'HS256', typ: 'at+jwt', kid: signingKid }, (input) => createHmac('sha256', publicPem).update(input).digest('base64url'))],
      ['forged signature under the real kid', signed({}, {}, stranger)],
      ['unknown kid', signed({}, { kid: 'kid-nobody-published' }, stranger)],
      ['own key advertised in jwk/jku/x5u headers', signed({}, { kid: 'attacker', jku: 'https://evil.example/jwks.json', x5u: 'https://evil.example/cert.pem', jwk: createPublicKey(stranger).export({ format: 'jwk' }) }, stranger)],
      ['wrong audience', signed({ aud: 'another-app' })],
      ['wrong issuer', signed({ iss: 'https://evil.example' })],
      ['wrong typ (a plain JWT)', signed({}, { typ: 'JWT' })],
      ['expired beyond the leeway', signed({ iat: now() - 900, nbf: now() - 900, exp: now() - 60 })],
      ['nbf in the future beyond the leeway', signed({ nbf: now() + 120 })],
      ['garbage', 'not.a.token'],
    ];
    const before = await queryDb(db.url, 'SELECT id, revoked_at FROM auth.sessions ORDER BY id');
    for (const [name, token] of attacks) {
      for (const call of [
        () => sessions.listSessions({}, bearer(token)),
        () => sessions.revokeAllSessions({ keepCurrent: false }, bearer(token)),
        () => running.auth.logout({}, bearer(token)),
      ]) {
        const failure = await failureOf(call());
        assert.equal(failure.code, Status.UNAUTHENTICATED, name);
        assert.equal(failure.message, REFUSED, `${name}: the message must not say which check failed`);
      }
    }
    assert.deepEqual(await queryDb(db.url, 'SELECT id, revoked_at FROM auth.sessions ORDER BY id'), before, 'an attack changed a session');
    console.log(`# ${attacks.length} attacks x 3 methods refused, sessions unchanged`);
  });
});
