// AccessTokenVerifier: the tokens every service must refuse (algorithm tricks,
// forged keys, wrong audience or issuer, wrong type, stale or not-yet-valid),
// and the one it must accept. Keys are made with node:crypto, tokens with
// jsonwebtoken or by hand where jsonwebtoken refuses to make them.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import { AccessTokenVerifier, AppError, ErrorCode, type JsonWebKeySet } from '@im-mesh/platform';

const ISSUER = 'im-mesh-auth';
const AUDIENCE = 'im-mesh';
const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

function jwkOf(publicKey: KeyObject, kid: string): JsonWebKeySet['keys'][number] {
  return { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

const now = () => Math.floor(Date.now() / 1000);
const claims = { sub: 'user-alice', sid: 'session-1', did: 'phone' };

function token(
  overrides: { payload?: Record<string, unknown>; header?: Record<string, unknown>; key?: KeyObject; algorithm?: jwt.Algorithm } = {},
): string {
  const payload = { ...claims, iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 300, ...overrides.payload };
  return jwt.sign(payload, overrides.key ?? signing.privateKey, {
    algorithm: overrides.algorithm ?? 'RS256',
    header: { alg: overrides.algorithm ?? 'RS256', typ: 'at+jwt', kid: 'key-1', ...overrides.header },
  });
}

/** A token jsonwebtoken will not produce: any header, payload and signature function. */
function handMade(header: Record<string, unknown>, sign: (input: string) => string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = { ...claims, iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 300 };
  const input = `${part(header)}.${part(payload)}`;
  return `${input}.${sign(input)}`;
}

function verifierWith(keys: () => JsonWebKeySet, minRefreshIntervalMs?: number) {
  const calls = { count: 0 };
  const verifier = new AccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    minRefreshIntervalMs,
    source: async () => {
      calls.count += 1;
      return keys();
    },
  });
  return { verifier, calls };
}

async function assertRefused(verifier: AccessTokenVerifier, tokenText: string, why: string): Promise<void> {
  await assert.rejects(verifier.verify(tokenText), (error: unknown) => {
    assert.ok(error instanceof AppError, `${why}: threw ${String(error)}`);
    assert.equal(error.code, ErrorCode.Unauthenticated, why);
    // One message for every failure: the caller learns nothing about which check failed.
    assert.equal(error.message, 'The access token is invalid or expired. Log in again or refresh the token.');
    return true;
  }, why);
}

describe('AccessTokenVerifier', () => {
  const { verifier } = verifierWith(() => ({ keys: [jwkOf(signing.publicKey, 'key-1')] }));

  test('accepts a valid token and returns who the caller is', async () => {
    const claimsSeen = await verifier.verify(token());
    assert.equal(claimsSeen.userId, 'user-alice');
    assert.equal(claimsSeen.sessionId, 'session-1');
    assert.equal(claimsSeen.deviceId, 'phone');
    assert.ok(Math.abs(claimsSeen.expiresAt - (now() + 300)) <= 2);
  });

  test('refuses alg "none"', async () => {
    await assertRefused(verifier, handMade({ alg: 'none', typ: 'at+jwt', kid: 'key-1' }, () => ''), 'alg none');
  });

  test('refuses HS256 signed with the public key as the HMAC secret (key confusion)', async () => {
    const pem = signing.publicKey.export({ format: 'pem', type: 'spki' });
    const forged = handMade({ alg: 'HS256', typ: 'at+jwt', kid: 'key-1' }, (input) => createHmac('sha256', pem).update(input).digest('base64url'));
    await assertRefused(verifier, forged, 'HS256 with the public key');
  });

  test('refuses another RSA algorithm than the pinned RS256', async () => {
    await assertRefused(verifier, token({ algorithm: 'RS512' }), 'RS512');
  });

  test('refuses an unknown kid, and a known kid signed by someone else', async () => {
    await assertRefused(verifier, token({ header: { kid: 'key-404' } }), 'unknown kid');
    await assertRefused(verifier, token({ key: stranger.privateKey }), 'forged signature under a known kid');
    await assertRefused(verifier, token({ header: { kid: undefined } }), 'no kid');
  });

  test('refuses the wrong audience, the wrong issuer and the wrong type', async () => {
    await assertRefused(verifier, token({ payload: { aud: 'another-app' } }), 'wrong aud');
    await assertRefused(verifier, token({ payload: { iss: 'https://evil.example' } }), 'wrong iss');
    await assertRefused(verifier, token({ header: { typ: 'JWT' } }), 'typ JWT (an ID token, not an access token)');
  });

  test('refuses an expired token and one not valid yet (beyond the 5 s leeway)', async () => {
    await assertRefused(verifier, token({ payload: { iat: now() - 600, exp: now() - 60 } }), 'expired');
    await assertRefused(verifier, token({ payload: { nbf: now() + 60 } }), 'nbf in the future');
    // Within the leeway both are still accepted (clock skew between services).
    await verifier.verify(token({ payload: { exp: now() - 2 } }));
    await verifier.verify(token({ payload: { nbf: now() + 2 } }));
  });

  test('refuses a token without the session and device claims, or garbage', async () => {
    await assertRefused(verifier, token({ payload: { sid: undefined } }), 'no sid');
    await assertRefused(verifier, token({ payload: { did: 7 } }), 'did not a string');
    await assertRefused(verifier, 'not.a.jwt', 'garbage');
    await assertRefused(verifier, '', 'empty');
  });

  test('a rotated key is picked up; forged kids do not flood the key service', async () => {
    let keys = [jwkOf(signing.publicKey, 'key-1')];
    const { verifier: rotating, calls } = verifierWith(() => ({ keys }), 10_000);
    await rotating.verify(token());
    for (let i = 0; i < 20; i += 1) await assertRefused(rotating, token({ header: { kid: `forged-${i}` } }), 'forged kid');
    assert.equal(calls.count, 1, 'unknown kids refetched the key set within the refresh interval');

    const { verifier: eager } = verifierWith(() => ({ keys }), 0);
    await eager.verify(token());
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys = [jwkOf(signing.publicKey, 'key-1'), jwkOf(next.publicKey, 'key-2')];
    const claimsSeen = await eager.verify(token({ key: next.privateKey, header: { kid: 'key-2' } }));
    assert.equal(claimsSeen.userId, 'user-alice');
  });

  test('an unreachable key service is UNAVAILABLE, not a refusal of the token', async () => {
    const down = new AccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      source: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:7001');
      },
    });
    await assert.rejects(down.verify(token()), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, ErrorCode.Unavailable);
      assert.doesNotMatch(error.message, /ECONNREFUSED/);
      return true;
    });
  });
});

function assertUnavailable(error: unknown): true {
  assert.ok(error instanceof AppError, `threw ${String(error)}`);
  assert.equal(error.code, ErrorCode.Unavailable);
  return true;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('AccessTokenVerifier key set refresh', () => {
  test('concurrent tokens on a fresh verifier all pass while the first key set fetch is in flight', async () => {
    let fetches = 0;
    const verifier = new AccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      source: async () => {
        fetches += 1;
        await pause(50);
        return { keys: [jwkOf(signing.publicKey, 'key-1')] };
      },
    });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => verifier.verify(token())));
    assert.deepEqual(results.map((seen) => seen.userId), ['user-alice', 'user-alice', 'user-alice', 'user-alice', 'user-alice']);
    assert.equal(fetches, 1, 'the concurrent tokens did not share one fetch');
    verifier.close();
  });

  test('while the key service is down, every caller waiting on the failing fetch and every later one is told UNAVAILABLE', async () => {
    let up = false;
    let fetches = 0;
    const verifier = new AccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      minRefreshIntervalMs: 1_500, // wide enough that a loaded machine stays within it
      source: async () => {
        fetches += 1;
        await pause(20);
        if (!up) throw new Error('connect ECONNREFUSED 127.0.0.1:7001');
        return { keys: [jwkOf(signing.publicKey, 'key-1')] };
      },
    });
    const concurrent = await Promise.allSettled([1, 2, 3].map(() => verifier.verify(token())));
    for (const result of concurrent) {
      assert.equal(result.status, 'rejected');
      assertUnavailable(result.reason);
    }
    // Within the refresh interval nothing is refetched, and a token whose key we
    // could not learn is still "try again", not "your token is bad".
    await assert.rejects(verifier.verify(token()), assertUnavailable);
    assert.equal(fetches, 1, 'the down key service was asked more than once within the refresh interval');
    up = true;
    await pause(1_600);
    assert.equal((await verifier.verify(token())).userId, 'user-alice');
    verifier.close();
  });

  test('a key removed from the set stops verifying after the periodic refresh; a failed refresh keeps the known keys', async () => {
    let keys = [jwkOf(signing.publicKey, 'key-1')];
    let down = false;
    let fetches = 0;
    const verifier = new AccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      refreshIntervalMs: 40,
      source: async () => {
        fetches += 1;
        if (down) throw new Error('key service restarting');
        return { keys };
      },
    });
    await verifier.verify(token());

    down = true;
    await pause(120);
    assert.equal((await verifier.verify(token())).userId, 'user-alice', 'a failed background refresh dropped the keys');

    down = false;
    keys = [];
    await pause(120);
    await assertRefused(verifier, token(), 'a key no longer in the set');

    verifier.close();
    const afterClose = fetches;
    await pause(120);
    assert.equal(fetches, afterClose, 'the closed verifier kept refreshing');
  });
});
