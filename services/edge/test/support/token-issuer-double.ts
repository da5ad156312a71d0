// Test double of auth's token issuing: a test RSA key, access tokens signed with it
// the way auth signs them (RS256, typ at+jwt, kid, iss/aud/sub/sid/did/exp), and
// forgeries for the rejection tests.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

export const TEST_ISSUER = 'im-mesh-test';
export const TEST_AUDIENCE = 'im-mesh-test';

export interface TestTokenIssuer {
  kid: string;
  /** The JWKS auth's KeyService would return, as JSON. */
  jwksJson: string;
  accessToken(claims?: { userId?: string; expiresInSeconds?: number }): string;
  /** Signed by a different key under the same kid. */
  forgedToken(): string;
  /** alg "none", no signature. */
  unsignedToken(): string;
}

export function createTestTokenIssuer(): TestTokenIssuer {
  const kid = 'edge-test-key-1';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const sign = (key: KeyObject, userId: string, expiresInSeconds: number) =>
    jwt.sign({ sid: `session-of-${userId}`, did: `device-of-${userId}` }, key, {
      algorithm: 'RS256',
      header: { alg: 'RS256', typ: 'at+jwt', kid },
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      subject: userId,
      expiresIn: expiresInSeconds,
    });
  return {
    kid,
    jwksJson: JSON.stringify({ keys: [jwk] }),
    accessToken: ({ userId = 'user-alice', expiresInSeconds = 300 } = {}) => sign(privateKey, userId, expiresInSeconds),
    forgedToken: () => sign(other, 'user-mallory', 300),
    unsignedToken: () => {
      const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      return `${encode({ alg: 'none', typ: 'at+jwt', kid })}.${encode({
        iss: TEST_ISSUER,
        aud: TEST_AUDIENCE,
        sub: 'user-mallory',
        sid: 's',
        did: 'd',
        exp: now + 300,
      })}.`;
    },
  };
}
