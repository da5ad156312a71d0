// Access tokens: short-lived RS256 JWTs that auth signs and every other service
// verifies locally against auth's JWKS. The verifier pins the algorithm, checks
// `typ`, `iss`, `aud`, `exp` and `nbf` (with a small leeway), selects the key by
// `kid` itself and never follows `jku`/`x5u`/`x5c` or an embedded `jwk`: keys
// come only from the configured JWKS source.
//
// Two kinds of token share the keys and the checks, told apart by `typ`: a user's
// access token ("at+jwt": sub = user, sid = session, did = device) and a service
// token ("service+jwt": sub = service account, role), so neither can stand in
// for the other.
//
// Every call is verified by the edge and again by the service behind it, so the
// verifier remembers successful verifications for a while (see `cacheSize`): a
// token string seen before skips the RSA signature check, but never the expiry,
// and never outlives the key that signed it.
import { createPublicKey, hash, type JsonWebKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError } from '../errors/app-error.js';

export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const ACCESS_TOKEN_ALGORITHM = 'RS256';
export const SERVICE_TOKEN_TYPE = 'service+jwt';

/** Roles a service account can hold; users always act with the role "user". */
export const SERVICE_ROLES = ['service', 'admin'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** What a verified service token says about its bearer. */
export interface ServiceTokenClaims {
  /** The service account's client id. */
  clientId: string;
  role: ServiceRole;
  /** Expiry, in Unix seconds. */
  expiresAt: number;
}

/** What a verified access token says about its bearer. */
export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
  deviceId: string;
  /** Expiry, in Unix seconds. */
  expiresAt: number;
}

export interface TokenAudience {
  issuer: string;
  audience: string;
}

export interface JsonWebKeySet {
  keys: Array<JsonWebKey & { kid?: string; alg?: string; use?: string }>;
}

/** Fetches the current JWKS from auth (over gRPC, HTTP or in-process). */
export type JwksSource = () => Promise<JsonWebKeySet>;

export interface AccessTokenVerifierOptions extends TokenAudience {
  source: JwksSource;
  /** Allowed clock skew, in seconds. 5 by default. */
  leewaySeconds?: number;
  /** Refetch the set at most this often when a token names an unknown kid. 10 s by default. */
  minRefreshIntervalMs?: number;
  /**
   * Refetch the set in the background this often, so a key auth withdrew stops
   * verifying. 5 minutes by default.
   */
  refreshIntervalMs?: number;
  /**
   * How many successfully verified tokens to remember, least recently used out
   * first; 0 turns the cache off. 50,000 by default, about 20 MB at most: an
   * entry is kept under the token's SHA-256, not the token itself. An LRU
   * smaller than the set of tokens in use misses on every lookup when they come
   * round in turn (10,000 clients reconnecting through a 10,000-entry cache
   * verified every token in full).
   */
  cacheSize?: number;
}

/**
 * A token that verified, under which key and until when. `key` is the very
 * KeyObject that checked the signature: `refresh` keeps the object of a key that
 * is still listed unchanged, so "still the same object under that kid" means
 * "auth still lists this key".
 */
type CachedVerification = {
  kid: string;
  key: KeyObject;
  /** Unix seconds; the bounds jsonwebtoken applies, leeway included. */
  validFrom: number;
  validUntil: number;
} & ({ type: typeof ACCESS_TOKEN_TYPE; claims: AccessTokenClaims } | { type: typeof SERVICE_TOKEN_TYPE; claims: ServiceTokenClaims });

interface SignedToken {
  payload: jwt.JwtPayload;
  kid: string;
  key: KeyObject;
}

const REJECTED = 'The access token is invalid or expired. Log in again or refresh the token.';

export class AccessTokenVerifier {
  private keys = new Map<string, KeyObject>();
  private lastFetch = 0;
  private lastFetchFailed = false;
  private inflight: Promise<void> | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private closed = false;
  /** Keyed by the token's SHA-256 (cacheKeyOf); Map order is the LRU order (a hit is moved to the end). */
  private readonly verified = new Map<string, CachedVerification>();

  constructor(private readonly options: AccessTokenVerifierOptions) {}

  /** Stops the background refresh. Tokens still verify against the keys known. */
  close(): void {
    this.closed = true;
    clearInterval(this.periodic);
    this.periodic = undefined;
  }

  /**
   * Returns the claims of a valid token; throws AppError UNAUTHENTICATED with one
   * uniform message otherwise, so a caller learns nothing about why; UNAVAILABLE
   * when the token's key cannot be looked up because the key service is down.
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    // The type is checked on the entry, so a service token remembered by
    // verifyServiceToken goes the full way here and is refused by its typ.
    const hit = this.cached(token);
    if (hit?.type === ACCESS_TOKEN_TYPE) return { ...hit.claims };
    const signed = await this.verifySigned(token, ACCESS_TOKEN_TYPE);
    const { sub, sid, did, exp } = signed.payload as jwt.JwtPayload & { sid?: unknown; did?: unknown };
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof did !== 'string' || typeof exp !== 'number') {
      throw AppError.unauthenticated(REJECTED, 'TOKEN_CLAIMS');
    }
    const claims: AccessTokenClaims = { userId: sub, sessionId: sid, deviceId: did, expiresAt: exp };
    this.remember(token, { type: ACCESS_TOKEN_TYPE, claims, ...this.validity(signed, exp) });
    // A copy, so a caller that changes its claims cannot change the cached ones.
    return { ...claims };
  }

  /**
   * Returns the claims of a valid service token (typ "service+jwt"); the same
   * refusals as `verify`. A user's access token is refused here, and a service
   * token by `verify`.
   */
  async verifyServiceToken(token: string): Promise<ServiceTokenClaims> {
    const hit = this.cached(token);
    if (hit?.type === SERVICE_TOKEN_TYPE) return { ...hit.claims };
    const signed = await this.verifySigned(token, SERVICE_TOKEN_TYPE);
    const { sub, role, exp } = signed.payload as jwt.JwtPayload & { role?: unknown };
    if (typeof sub !== 'string' || typeof exp !== 'number' || !SERVICE_ROLES.includes(role as ServiceRole)) {
      throw AppError.unauthenticated(REJECTED, 'TOKEN_CLAIMS');
    }
    const claims: ServiceTokenClaims = { clientId: sub, role: role as ServiceRole, expiresAt: exp };
    this.remember(token, { type: SERVICE_TOKEN_TYPE, claims, ...this.validity(signed, exp) });
    return { ...claims };
  }

  /**
   * The remembered verification of `token` if it still holds: its key is still in
   * the set and the clock is within the bounds jwt.verify would apply. A stale
   * entry is dropped and the caller verifies in full, so a stale token is refused
   * exactly as if it had never been cached (same error, same work).
   */
  private cached(token: string): CachedVerification | undefined {
    const id = cacheKeyOf(token);
    const entry = this.verified.get(id);
    if (!entry) return undefined;
    // The same clock and rounding as jsonwebtoken's exp/nbf checks.
    const now = Math.floor(Date.now() / 1000);
    if (this.keys.get(entry.kid) !== entry.key || now >= entry.validUntil || now < entry.validFrom) {
      this.verified.delete(id);
      return undefined;
    }
    this.verified.delete(id);
    this.verified.set(id, entry);
    return entry;
  }

  private remember(token: string, entry: CachedVerification): void {
    const size = this.options.cacheSize ?? 50_000;
    if (size <= 0) return;
    const id = cacheKeyOf(token);
    this.verified.delete(id);
    while (this.verified.size >= size) {
      const oldest = this.verified.keys().next();
      if (oldest.done) break;
      this.verified.delete(oldest.value);
    }
    this.verified.set(id, entry);
  }

  private validity(signed: SignedToken, exp: number): Pick<CachedVerification, 'kid' | 'key' | 'validFrom' | 'validUntil'> {
    const leeway = this.leewaySeconds();
    const { nbf } = signed.payload;
    return {
      kid: signed.kid,
      key: signed.key,
      // jsonwebtoken refuses when nbf > now + leeway and when now >= exp + leeway.
      validFrom: typeof nbf === 'number' ? nbf - leeway : Number.NEGATIVE_INFINITY,
      validUntil: exp + leeway,
    };
  }

  private leewaySeconds(): number {
    return this.options.leewaySeconds ?? 5;
  }

  private async verifySigned(token: string, type: string): Promise<SignedToken> {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') throw AppError.unauthenticated(REJECTED, 'TOKEN_MALFORMED');
    const { header } = decoded;
    if (header.alg !== ACCESS_TOKEN_ALGORITHM || header.typ !== type || !header.kid) {
      throw AppError.unauthenticated(REJECTED, 'TOKEN_HEADER');
    }
    const key = await this.keyFor(header.kid);
    if (!key) throw AppError.unauthenticated(REJECTED, 'TOKEN_UNKNOWN_KID');
    let payload: jwt.JwtPayload;
    try {
      payload = jwt.verify(token, key, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.leewaySeconds(),
      }) as jwt.JwtPayload;
    } catch {
      throw AppError.unauthenticated(REJECTED, 'TOKEN_REJECTED');
    }
    return { payload, kid: header.kid, key };
  }

  private async keyFor(kid: string): Promise<KeyObject | undefined> {
    const known = this.keys.get(kid);
    if (known) return known;
    // A fetch already under way (the first one, or a rotation) may bring this
    // kid: wait for it instead of refusing a token that is about to be valid.
    if (this.inflight) {
      await this.inflight.catch(() => undefined);
      const fetched = this.keys.get(kid);
      if (fetched) return fetched;
    }
    const minInterval = this.options.minRefreshIntervalMs ?? 10_000;
    // An unknown kid may be a freshly rotated key: refetch, but not more often
    // than minInterval, so forged kids cannot turn us into a JWKS flood.
    if (Date.now() - this.lastFetch >= minInterval) {
      await this.refresh();
      return this.keys.get(kid);
    }
    // We could not learn the current set: the token may well be valid, so the
    // caller should retry rather than log in again.
    if (this.lastFetchFailed) throw keyServiceUnavailable();
    return undefined;
  }

  private refresh(): Promise<void> {
    this.startPeriodicRefresh();
    this.inflight ??= (async () => {
      // Counted from the attempt, so a failing key service is not asked per token.
      this.lastFetch = Date.now();
      try {
        const set = await this.options.source();
        const keys = new Map<string, KeyObject>();
        for (const jwk of set.keys) {
          if (!jwk.kid || jwk.kty !== 'RSA' || (jwk.alg && jwk.alg !== ACCESS_TOKEN_ALGORITHM)) continue;
          const fresh = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
          const known = this.keys.get(jwk.kid);
          // The same object for an unchanged key keeps the tokens it verified
          // cached; a new key under an old kid invalidates them (see `cached`).
          keys.set(jwk.kid, known?.equals(fresh) ? known : fresh);
        }
        // Replaced, not merged: a key auth no longer lists stops verifying.
        this.keys = keys;
        this.lastFetchFailed = false;
      } catch (error) {
        // The keys known so far stay: an outage of the key service must not log
        // everybody out.
        this.lastFetchFailed = true;
        throw keyServiceUnavailable(error);
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** Started by the first fetch, so a verifier that never sees a token never polls. */
  private startPeriodicRefresh(): void {
    if (this.periodic || this.closed) return;
    this.periodic = setInterval(() => {
      this.refresh().catch(() => undefined);
    }, this.options.refreshIntervalMs ?? 5 * 60_000);
    // Never the reason the process stays up.
    this.periodic.unref();
  }
}

function keyServiceUnavailable(cause?: unknown): AppError {
  return new AppError('unavailable', 'Cannot check the access token right now: the key service is unreachable.', { cause });
}

/** Reads the token from `authorization: Bearer <token>` metadata or header values. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return match?.[1];
}

/**
 * The cache's key for a token: its SHA-256 (44 characters instead of the token's
 * ~800). One-shot crypto.hash: a Hash object per call (createHash, update,
 * digest) cost twice as much, and every call of every service looks a token up.
 */
function cacheKeyOf(token: string): string {
  return hash('sha256', token, 'base64');
}
