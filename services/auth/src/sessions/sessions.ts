// Sessions: opened by a successful login (one per device login), kept alive by
// rotating refresh tokens, ended by logout, revocation or a ban.
//
// Refresh follows RFC 9700 section 4.14: every use rotates the token. A rotated
// token that comes back within the grace window while its successor is still
// unused gets the same new pair again (the client lost the answer; the pair was
// sealed under the key-encryption key for exactly this). Any other return of a
// rotated token means it was copied: the whole session is revoked and its live
// connections are closed, so neither the thief nor the victim can go on and the
// user logs in again. Ending a session always tells connect nodes (see
// RevocationNotifier).
import { AppError, isUuid, uuidv7, type AccessTokenClaims, type Logger } from '@im-mesh/platform';
import type { AuthMetrics } from '../auth-metrics.js';
import type { SecretSealer } from '../keys/secret-sealer.js';
import type { SessionOwner, SessionRow, SessionStore } from '../storage/session-store.js';
import type { RevocationNotifier } from './revocation-notifier.js';
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

export interface ListedSession extends SessionRow {
  current: boolean;
}

export interface SessionsDeps {
  store: SessionStore;
  issuer: TokenIssuer;
  sealer: SecretSealer;
  notifier: RevocationNotifier;
  /** How long a rotated refresh token still returns its successor pair, in seconds; 0 turns it off. */
  refreshReuseGraceSeconds: number;
  metrics: AuthMetrics;
  logger: Logger;
  now?: () => Date;
}

const REFRESH_REFUSED = 'The refresh token is invalid, expired or revoked. Log in again.';
const SESSION_NOT_FOUND = 'You have no session with that id.';

/** PERMISSION_DENIED for a banned user, with the reason an admin gave. */
export function bannedError(reason: string): AppError {
  const why = reason ? ` Reason: ${reason}` : '';
  return AppError.permissionDenied(`This account is banned.${why}`, 'ACCOUNT_BANNED');
}

export class Sessions {
  private readonly now: () => Date;

  constructor(private readonly deps: SessionsDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Records the device, opens a session on it and issues its first token pair.
   * Called after the password or code was checked, so telling a banned user why
   * reveals nothing to anyone without their password.
   */
  async open(userId: string, deviceId: string, devicePlatform: string): Promise<OpenedSession> {
    const standing = await this.deps.store.userStanding(userId);
    if (standing.kind === 'banned') throw bannedError(standing.reason);
    const now = this.now();
    const sessionId = uuidv7(now.getTime());
    const refresh = this.deps.issuer.refreshToken(now);
    await this.deps.store.openSession({ sessionId, userId, deviceId, devicePlatform, refreshToken: refresh.stored }, now);
    const access = this.deps.issuer.accessToken({ sessionId, userId, deviceId }, now);
    return { sessionId, tokens: pairOf(access, refresh) };
  }

  /** Exchanges a live refresh token for a new pair; the presented token stops working (see the header for the grace window). */
  async refresh(refreshToken: string): Promise<TokenPair> {
    if (!looksLikeRefreshToken(refreshToken)) {
      this.deps.metrics.refresh('rejected');
      throw AppError.unauthenticated(REFRESH_REFUSED, 'REFRESH_REFUSED');
    }
    const now = this.now();
    const presented = hashRefreshToken(refreshToken);
    const next = this.deps.issuer.refreshToken(now);
    let issued: TokenPair | undefined;
    const outcome = await this.deps.store.rotateRefreshToken({
      presented,
      next: next.stored,
      now,
      graceMs: this.deps.refreshReuseGraceSeconds * 1000,
      sealSuccessor: (owner: SessionOwner) => {
        issued = pairOf(this.deps.issuer.accessToken(owner, now), next);
        return this.deps.sealer.seal(Buffer.from(JSON.stringify(serializePair(issued)), 'utf8'), successorBinding(presented));
      },
    });
    this.deps.metrics.refresh(outcome.kind);
    switch (outcome.kind) {
      case 'rotated':
        return issued!;
      case 'replayed':
        this.deps.logger.info({ sessionId: outcome.session.sessionId }, 'a just-rotated refresh token came back within the grace window; same pair returned');
        return deserializePair(this.deps.sealer.unseal(outcome.sealed, successorBinding(presented)));
      case 'reused':
        this.deps.logger.warn({ sessionId: outcome.session.sessionId }, 'a rotated refresh token was presented again; session revoked');
        await this.deps.notifier.notify({ userId: outcome.session.userId, sessionIds: [outcome.session.sessionId], reason: 'refresh token reused' });
        throw AppError.unauthenticated(REFRESH_REFUSED, 'REFRESH_REFUSED');
      case 'banned':
        throw bannedError(outcome.reason);
      case 'rejected':
        throw AppError.unauthenticated(REFRESH_REFUSED, 'REFRESH_REFUSED');
    }
  }

  /** Revokes the caller's session and its refresh tokens, and closes its connections. Logging out twice is not an error. */
  async logout(caller: AccessTokenClaims): Promise<void> {
    // The token is ours and signed, but a malformed sid must not reach a uuid cast.
    if (!isUuid(caller.sessionId) || !isUuid(caller.userId)) return;
    const result = await this.deps.store.revokeSession(caller.sessionId, caller.userId, this.now());
    if (result === 'revoked') await this.deps.notifier.notify({ userId: caller.userId, sessionIds: [caller.sessionId], reason: 'logged out' });
  }

  /** The user's live sessions, newest first; `currentSessionId` marks the caller's own. */
  async list(userId: string, currentSessionId?: string): Promise<ListedSession[]> {
    if (!isUuid(userId)) return [];
    const rows = await this.deps.store.listLiveSessions(userId, this.now());
    return rows.map((row) => ({ ...row, current: row.sessionId === currentSessionId }));
  }

  /**
   * Ends one session of `userId`: NOT_FOUND when they have no such session;
   * revoking twice is fine. True when this call ended it.
   */
  async revoke(userId: string, sessionId: string, reason = 'session revoked'): Promise<boolean> {
    if (!isUuid(sessionId)) throw AppError.invalidArgument('session_id must be a session UUID.', 'SESSION_ID_INVALID');
    if (!isUuid(userId)) throw AppError.notFound(SESSION_NOT_FOUND, 'SESSION_NOT_FOUND');
    const result = await this.deps.store.revokeSession(sessionId, userId, this.now());
    if (result === 'not_found') throw AppError.notFound(SESSION_NOT_FOUND, 'SESSION_NOT_FOUND');
    if (result === 'revoked') await this.deps.notifier.notify({ userId, sessionIds: [sessionId], reason });
    return result === 'revoked';
  }

  /** Ends every live session of `userId` except `keepSessionId`; returns how many ended. */
  async revokeAll(userId: string, keepSessionId?: string, reason = 'signed out everywhere'): Promise<number> {
    if (!isUuid(userId)) return 0;
    const revoked = await this.deps.store.revokeAllSessions(userId, this.now(), keepSessionId && isUuid(keepSessionId) ? keepSessionId : undefined);
    await this.deps.notifier.notify({ userId, sessionIds: revoked, reason });
    return revoked.length;
  }

  /** What a connect node should do with a connection of this session. */
  async standing(userId: string, sessionId: string) {
    if (!isUuid(userId) || !isUuid(sessionId)) return { kind: 'revoked' as const };
    return this.deps.store.sessionStanding(userId, sessionId);
  }

  /** Bans the user, revokes every session and closes every connection; NOT_FOUND without such a user. */
  async ban(userId: string, reason: string): Promise<number> {
    const revoked = isUuid(userId) ? await this.deps.store.ban(userId, reason, this.now()) : undefined;
    if (!revoked) throw AppError.notFound('There is no user with that id.', 'USER_NOT_FOUND');
    // Every connection of the user, not only the sessions revoked now: one opened
    // a moment ago on a session revoked earlier must go too.
    await this.deps.notifier.notify({ userId, reason: 'account banned', banned: true });
    return revoked.length;
  }

  /** Lifts a ban; NOT_FOUND without such a user. Revoked sessions stay revoked. */
  async unban(userId: string): Promise<void> {
    if (!isUuid(userId) || !(await this.deps.store.unban(userId))) {
      throw AppError.notFound('There is no user with that id.', 'USER_NOT_FOUND');
    }
  }
}

/** Associated data of a sealed successor pair: it opens only for the token it answers. */
function successorBinding(presentedHash: Buffer): string {
  return `auth.refresh_tokens:${presentedHash.toString('hex')}`;
}

interface SerializedPair {
  a: string;
  ae: number;
  r: string;
  re: number;
}

function serializePair(pair: TokenPair): SerializedPair {
  return { a: pair.accessToken, ae: pair.accessTokenExpiresAt.getTime(), r: pair.refreshToken, re: pair.refreshTokenExpiresAt.getTime() };
}

function deserializePair(bytes: Buffer): TokenPair {
  const pair = JSON.parse(bytes.toString('utf8')) as SerializedPair;
  return { accessToken: pair.a, accessTokenExpiresAt: new Date(pair.ae), refreshToken: pair.r, refreshTokenExpiresAt: new Date(pair.re) };
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
