// Mints the two tokens of a session, and service tokens. The access token is an
// RS256 JWT (typ "at+jwt", kid of the signing key, iss/aud/sub/sid/did/iat/nbf/
// exp/jti) that every service verifies locally. The refresh token is 32 random
// bytes, opaque to everyone; only its SHA-256 is stored. A service token is the
// same kind of JWT with typ "service+jwt", sub = the service account and its role.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_TYPE, SERVICE_TOKEN_TYPE, type ServiceRole } from '@im-mesh/platform';
import type { KeyRing } from '../keys/key-ring.js';
import type { SessionOwner, StoredRefreshToken } from '../storage/session-store.js';

export interface TokenIssuerOptions {
  keys: KeyRing;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

export interface SignedAccessToken {
  token: string;
  expiresAt: Date;
}

export interface MintedRefreshToken {
  /** Goes to the client, once. */
  token: string;
  /** Goes to the database. */
  stored: StoredRefreshToken;
}

/** 32 random bytes, base64url without padding. */
const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class TokenIssuer {
  constructor(private readonly options: TokenIssuerOptions) {}

  accessToken(owner: SessionOwner, now: Date): SignedAccessToken {
    const { keys, issuer, audience, accessTokenTtlSeconds } = this.options;
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + accessTokenTtlSeconds;
    const claims = {
      iss: issuer,
      aud: audience,
      sub: owner.userId,
      sid: owner.sessionId,
      did: owner.deviceId,
      iat,
      nbf: iat,
      exp,
      jti: randomUUID(),
    };
    const token = jwt.sign(claims, keys.signingKey.privateKey, {
      algorithm: ACCESS_TOKEN_ALGORITHM,
      header: { alg: ACCESS_TOKEN_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid: keys.signingKey.kid },
    });
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** A service token for a service account, valid `ttlSeconds`. */
  serviceToken(clientId: string, role: ServiceRole, ttlSeconds: number, now: Date): SignedAccessToken {
    const { keys, issuer, audience } = this.options;
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + ttlSeconds;
    const token = jwt.sign({ iss: issuer, aud: audience, sub: clientId, role, iat, nbf: iat, exp, jti: randomUUID() }, keys.signingKey.privateKey, {
      algorithm: ACCESS_TOKEN_ALGORITHM,
      header: { alg: ACCESS_TOKEN_ALGORITHM, typ: SERVICE_TOKEN_TYPE, kid: keys.signingKey.kid },
    });
    return { token, expiresAt: new Date(exp * 1000) };
  }

  refreshToken(now: Date): MintedRefreshToken {
    const token = randomBytes(32).toString('base64url');
    return {
      token,
      stored: {
        hash: hashRefreshToken(token),
        expiresAt: new Date(now.getTime() + this.options.refreshTokenTtlSeconds * 1000),
      },
    };
  }
}

/** The SHA-256 a refresh token is stored and looked up by. */
export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** False for anything that cannot be a refresh token we issued, so it is refused without a lookup. */
export function looksLikeRefreshToken(token: string): boolean {
  return REFRESH_TOKEN_PATTERN.test(token);
}
