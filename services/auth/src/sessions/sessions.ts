// Sessions: opened by a successful login (one per device login), kept alive by
// rotating refresh tokens, ended by logout. A rotated refresh token that comes
// back means it was copied: the whole session is revoked, so neither the thief
// nor the victim can refresh again and the user has to log in.
import { AppError, isUuid, uuidv7, type AccessTokenClaims, type Logger } from '@im-mesh/platform';
import type { AuthMetrics } from '../auth-metrics.js';
import type { SessionStore } from '../storage/session-store.js';
import { hashRefreshToken, looksLikeRefreshToken, type TokenIssuer } from './token-issuer.js';

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

export interface OpenedSession {
  sessionId: string;
  tokens: TokenPair;
}

export interface SessionsDeps {
  store: SessionStore;
  issuer: TokenIssuer;
  metrics: AuthMetrics;
  logger: Logger;
  now?: () => Date;
}

const REFRESH_REFUSED = 'The refresh token is invalid, expired or revoked. Log in again.';

export class Sessions {
  private readonly now: () => Date;

  constructor(private readonly deps: SessionsDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Records the device, opens a session on it and issues its first token pair. */
  async open(userId: string, deviceId: string, devicePlatform: string): Promise<OpenedSession> {
    const now = this.now();
    const sessionId = uuidv7(now.getTime());
    const refresh = this.deps.issuer.refreshToken(now);
    await this.deps.store.openSession({ sessionId, userId, deviceId, devicePlatform, refreshToken: refresh.stored }, now);
    const access = this.deps.issuer.accessToken({ sessionId, userId, deviceId }, now);
    return { sessionId, tokens: pairOf(access, refresh) };
  }

  /** Exchanges a live refresh token for a new pair; the presented token stops working. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    if (!looksLikeRefreshToken(refreshToken)) {
      this.deps.metrics.refresh('rejected');
      throw AppError.unauthenticated(REFRESH_REFUSED, 'REFRESH_REFUSED');
    }
    const now = this.now();
    const next = this.deps.issuer.refreshToken(now);
    const outcome = await this.deps.store.rotateRefreshToken(hashRefreshToken(refreshToken), next.stored, now);
    this.deps.metrics.refresh(outcome.kind);
    if (outcome.kind === 'reused') {
      this.deps.logger.warn({ sessionId: outcome.sessionId }, 'a rotated refresh token was presented again; session revoked');
    }
    if (outcome.kind !== 'rotated') throw AppError.unauthenticated(REFRESH_REFUSED, 'REFRESH_REFUSED');
    const access = this.deps.issuer.accessToken(outcome.session, now);
    return pairOf(access, next);
  }

  /** Revokes the caller's session and its refresh tokens. Logging out twice is not an error. */
  async logout(caller: AccessTokenClaims): Promise<void> {
    // The token is ours and signed, but a malformed sid must not reach a uuid cast.
    if (!isUuid(caller.sessionId) || !isUuid(caller.userId)) return;
    await this.deps.store.revokeSession(caller.sessionId, caller.userId, this.now());
  }
}

function pairOf(
  access: { token: string; expiresAt: Date },
  refresh: { token: string; stored: { expiresAt: Date } },
): TokenPair {
  return {
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: refresh.token,
    refreshTokenExpiresAt: refresh.stored.expiresAt,
  };
}
