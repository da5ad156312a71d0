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

// The cache of successful verifications. "Skipped the signature check" is
// observed by spying on jwt.verify (the verifier calls it through the same
// module object); the clock is node:test's mocked Date, which jsonwebtoken
// reads too, so cached and fresh verification see the same time.
describe('AccessTokenVerifier cache of verified tokens', () => {
  const REJECTED = 'The access token is invalid or expired. Log in again or refresh the token.';

  function caching(options: { keys?: () => JsonWebKeySet; cacheSize?: number; leewaySeconds?: number; refreshIntervalMs?: number } = {}) {
    return new AccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      cacheSize: options.cacheSize,
      leewaySeconds: options.leewaySeconds,
      refreshIntervalMs: options.refreshIntervalMs,
      source: async () => (options.keys ?? (() => ({ keys: [jwkOf(signing.publicKey, 'key-1')] })))(),
    });
  }

  function serviceToken(payload: Record<string, unknown> = {}): string {
    return jwt.sign(
      { sub: 'svc-core', role: 'service', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 300, ...payload },
      signing.privateKey,
      { algorithm: 'RS256', header: { alg: 'RS256', typ: 'service+jwt', kid: 'key-1' } },
    );
  }

  /** The error a verifier that never saw the token gives for it. */
  async function freshRefusal(tokenText: string, leewaySeconds?: number): Promise<AppError> {
    const fresh = caching({ leewaySeconds });
    try {
      await fresh.verify(tokenText);
    } catch (error) {
      assert.ok(error instanceof AppError);
      return error;
    } finally {
      fresh.close();
    }
    assert.fail('a fresh verifier accepted the token');
  }

  test('the same token again skips the signature check; the claims handed out are copies', async (t) => {
    const verifies = t.mock.method(jwt, 'verify');
    const verifier = caching();
    const tokenText = token();
    const first = await verifier.verify(tokenText);
    first.userId = 'user-mallory';
    const second = await verifier.verify(tokenText);
    assert.equal(verifies.mock.callCount(), 1, 'the second verify checked the signature again');
    assert.equal(second.userId, 'user-alice', 'a caller changing its claims changed the cached ones');
    assert.deepEqual(second, { ...first, userId: 'user-alice' });
    verifier.close();
  });

  test('a cached token stops verifying once its kid is withdrawn or re-bound to another key; an unchanged key keeps the cache', async (t) => {
    const verifies = t.mock.method(jwt, 'verify');
    let keys = [jwkOf(signing.publicKey, 'key-1')];
    const verifier = caching({ keys: () => ({ keys }), refreshIntervalMs: 40 });
    const tokenText = token();
    await verifier.verify(tokenText);
    await pause(120); // periodic refreshes that list the same key
    await verifier.verify(tokenText);
    assert.equal(verifies.mock.callCount(), 1, 'a refresh listing the same key emptied the cache');

    keys = [];
    await pause(120);
    await assertRefused(verifier, tokenText, 'a cached token whose kid was withdrawn');

    keys = [jwkOf(signing.publicKey, 'key-1')];
    await pause(120);
    await verifier.verify(tokenText);
    keys = [jwkOf(stranger.publicKey, 'key-1')];
    await pause(120);
    await assertRefused(verifier, tokenText, 'a cached token whose kid now names another key');
    verifier.close();
  });

  test('a cached token is refused from exp + leeway on, exactly as a fresh verifier refuses it', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2030, 0, 1) });
    const verifies = t.mock.method(jwt, 'verify');
    const verifier = caching(); // leeway 5 s
    const tokenText = token({ payload: { exp: now() + 60 } });
    await verifier.verify(tokenText);

    t.mock.timers.tick(64_000); // exp + 4 s: within the leeway
    assert.equal((await verifier.verify(tokenText)).userId, 'user-alice');
    assert.equal(verifies.mock.callCount(), 1);

    t.mock.timers.tick(1_000); // exp + 5 s: jwt.verify's own bound
    const expected = await freshRefusal(tokenText);
    await assert.rejects(verifier.verify(tokenText), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, ErrorCode.Unauthenticated);
      assert.equal(error.message, REJECTED);
      assert.equal(error.reason, expected.reason);
      return true;
    });
    // And it stays refused: the stale entry was dropped, nothing was re-cached.
    await assertRefused(verifier, tokenText, 'expired, asked again');
    verifier.close();
  });

  test('with leeway 0 a cached token is refused at exp', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2030, 0, 1) });
    const verifier = caching({ leewaySeconds: 0 });
    const tokenText = token({ payload: { exp: now() + 2 } });
    await verifier.verify(tokenText);
    t.mock.timers.tick(1_999);
    await verifier.verify(tokenText);
    t.mock.timers.tick(1);
    await assertRefused(verifier, tokenText, 'cached, at exp with leeway 0');
    verifier.close();
  });

  test('a refusal is not cached: a token not valid yet is accepted once its nbf comes', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2030, 0, 1) });
    const verifier = caching();
    const tokenText = token({ payload: { nbf: now() + 60 } });
    await assertRefused(verifier, tokenText, 'nbf in the future');
    await assertRefused(verifier, tokenText, 'nbf in the future, asked again');
    t.mock.timers.tick(55_000); // nbf - leeway
    assert.equal((await verifier.verify(tokenText)).userId, 'user-alice');
    verifier.close();
  });

  test('a service token cached by verifyServiceToken is still refused by verify, and the other way round', async () => {
    const verifier = caching();
    const service = serviceToken();
    assert.equal((await verifier.verifyServiceToken(service)).clientId, 'svc-core');
    assert.equal((await verifier.verifyServiceToken(service)).role, 'service');
    await assertRefused(verifier, service, 'a cached service token presented as an access token');

    const access = token();
    await verifier.verify(access);
    await assert.rejects(verifier.verifyServiceToken(access), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, ErrorCode.Unauthenticated);
      assert.equal(error.message, REJECTED);
      return true;
    });
    verifier.close();
  });

  test('the cache holds cacheSize tokens, evicting the least recently used; 0 turns it off', async (t) => {
    const verifies = t.mock.method(jwt, 'verify');
    const verifier = caching({ cacheSize: 2 });
    const a = token({ payload: { sid: 'session-a' } });
    const b = token({ payload: { sid: 'session-b' } });
    const c = token({ payload: { sid: 'session-c' } });
    await verifier.verify(a);
    await verifier.verify(b);
    await verifier.verify(a); // a is now the most recently used
    await verifier.verify(c); // evicts b
    assert.equal(verifies.mock.callCount(), 3);
    await verifier.verify(a);
    await verifier.verify(c);
    assert.equal(verifies.mock.callCount(), 3, 'a or c was evicted instead of b');
    assert.equal((await verifier.verify(b)).sessionId, 'session-b');
    assert.equal(verifies.mock.callCount(), 4, 'b was not evicted');
    verifier.close();

    const uncached = caching({ cacheSize: 0 });
    await uncached.verify(a);
    await uncached.verify(a);
    assert.equal(verifies.mock.callCount(), 6, 'cacheSize 0 still cached');
    uncached.close();
  });
});
