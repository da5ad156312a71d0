// Devices, sessions and refresh tokens in the auth schema. Refresh tokens are
// looked up by their SHA-256 only; the tokens themselves are never stored in
// clear. A rotated token keeps the hash of its successor and, sealed by the
// caller, the successor pair, so a retry within the grace window gets the same
// pair; only the latest rotated token of a session holds one.
import type { DataSource } from 'typeorm';
import { BatchedLookup } from '@im-mesh/platform';
import { inTransaction, withConnection, type Sql } from './sql.js';

export interface StoredRefreshToken {
  /** SHA-256 of the opaque token, 32 bytes. */
  hash: Buffer;
  expiresAt: Date;
}

export interface NewSession {
  sessionId: string;
  userId: string;
  deviceId: string;
  devicePlatform: string;
  refreshToken: StoredRefreshToken;
}

export interface SessionOwner {
  sessionId: string;
  userId: string;
  deviceId: string;
}

export interface SessionRow {
  sessionId: string;
  deviceId: string;
  devicePlatform: string;
  createdAt: Date;
  lastRefreshedAt: Date;
}

/** Whether a user may hold sessions: they exist, are enabled and not banned. */
export type UserStanding = { kind: 'good' } | { kind: 'banned'; reason: string } | { kind: 'unknown' };

export interface RotationRequest {
  /** SHA-256 of the presented token. */
  presented: Buffer;
  /** The successor to store when the presented token is live. */
  next: StoredRefreshToken;
  /** Seals the successor pair for this owner; called inside the transaction, only on rotation. */
  sealSuccessor: (owner: SessionOwner) => Buffer;
  /** A rotated token presented again within this many ms gets its sealed successor back. */
  graceMs: number;
  now: Date;
}

/**
 * What presenting a refresh token led to:
 * - rotated: it was live; it is now spent and `next` replaces it;
 * - replayed: it was rotated within the grace window and its successor is still
 *   unused, so the client most likely lost the answer: `sealed` is that answer;
 * - reused: it had already been rotated (outside the grace window, or its
 *   successor was used), so someone replays it: the whole session is revoked
 *   (committed before this returns);
 * - banned: the user is banned (the session stays, the ban may be lifted);
 * - rejected: unknown, expired, revoked session or disabled user.
 */
export type RotationOutcome =
  | { kind: 'rotated'; session: SessionOwner }
  | { kind: 'replayed'; session: SessionOwner; sealed: Buffer }
  | { kind: 'reused'; session: SessionOwner }
  | { kind: 'banned'; reason: string }
  | { kind: 'rejected' };

/** The most sessions listed at once; a user with more sees the newest. */
export const MAX_LISTED_SESSIONS = 200;

export type SessionStanding = { kind: 'live' } | { kind: 'revoked' } | { kind: 'banned'; reason: string };

/** One (user, session) question; PostgreSQL returns uuids in lower case, so compare them so. */
function standingKey(key: { userId: string; sessionId: string }): string {
  return `${key.userId.toLowerCase()}:${key.sessionId.toLowerCase()}`;
}

export class SessionStore {
  private readonly standings: BatchedLookup<{ userId: string; sessionId: string }, SessionStanding>;

  constructor(private readonly db: DataSource) {
    // An unknown session, or one of another user, reads as revoked.
    this.standings = new BatchedLookup({ fetch: (keys) => this.fetchStandings(keys), keyOf: standingKey, missing: { kind: 'revoked' } });
  }

  /** Records the device (first or latest sighting), opens a session and stores its first refresh token, atomically. */
  async openSession(session: NewSession, now: Date): Promise<void> {
    await inTransaction(this.db, async (sql) => {
      await sql(
        `INSERT INTO devices (user_id, device_id, platform, first_seen_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (user_id, device_id) DO UPDATE
           SET last_seen_at = EXCLUDED.last_seen_at,
               platform = CASE WHEN EXCLUDED.platform = '' THEN devices.platform ELSE EXCLUDED.platform END`,
        [session.userId, session.deviceId, session.devicePlatform, now],
      );
      await sql(
        `INSERT INTO sessions (id, user_id, device_id, created_at, last_refreshed_at) VALUES ($1, $2, $3, $4, $4)`,
        [session.sessionId, session.userId, session.deviceId, now],
      );
      await sql(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`, [
        session.refreshToken.hash,
        session.sessionId,
        now,
        session.refreshToken.expiresAt,
      ]);
    });
  }

  /**
   * Spends the presented refresh token and stores `next` in its place, in one
   * transaction. The presented row and its session are locked first, so of two
   * concurrent uses of one token exactly one rotates; the other sees a rotated
   * token (a replay within the grace window, or reuse).
   */
  async rotateRefreshToken(request: RotationRequest): Promise<RotationOutcome> {
    const { presented, next, now } = request;
    return inTransaction(this.db, async (sql): Promise<RotationOutcome> => {
      const rows = await sql<{
        session_id: string;
        expires_at: Date;
        rotated_at: Date | null;
        successor_sealed: Buffer | null;
        successor_live: boolean;
        user_id: string;
        device_id: string;
        session_revoked: boolean;
        user_disabled: boolean;
        banned: boolean;
        ban_reason: string;
      }>(
        `SELECT t.session_id, t.expires_at, t.rotated_at, t.successor_sealed,
                EXISTS (SELECT 1 FROM refresh_tokens n
                         WHERE n.token_hash = t.successor_hash AND n.rotated_at IS NULL AND n.expires_at > $2) AS successor_live,
                s.user_id, s.device_id, s.revoked_at IS NOT NULL AS session_revoked,
                u.disabled_at IS NOT NULL AS user_disabled, u.banned_at IS NOT NULL AS banned, u.ban_reason
           FROM refresh_tokens t
           JOIN sessions s ON s.id = t.session_id
           JOIN users u ON u.id = s.user_id
          WHERE t.token_hash = $1
          FOR UPDATE OF t, s`,
        [presented, now],
      );
      const row = rows[0];
      if (!row || row.user_disabled) return { kind: 'rejected' };
      // Before the revoked check: a ban revokes every session, and the user
      // should learn about the ban, not that they must log in again.
      if (row.banned) return { kind: 'banned', reason: row.ban_reason };
      if (row.session_revoked) return { kind: 'rejected' };
      const owner: SessionOwner = { sessionId: row.session_id, userId: row.user_id, deviceId: row.device_id };
      if (row.rotated_at !== null) {
        const withinGrace = now.getTime() - row.rotated_at.getTime() <= request.graceMs;
        if (withinGrace && row.successor_live && row.successor_sealed) {
          return { kind: 'replayed', session: owner, sealed: row.successor_sealed };
        }
        await revokeSessionRows(sql, row.session_id, now);
        return { kind: 'reused', session: owner };
      }
      if (row.expires_at.getTime() <= now.getTime()) return { kind: 'rejected' };
      // Only the token rotated now may answer a lost-response retry; older sealed
      // pairs name tokens that are spent.
      await sql(`UPDATE refresh_tokens SET successor_sealed = NULL WHERE session_id = $1 AND successor_sealed IS NOT NULL`, [
        row.session_id,
      ]);
      await sql(`UPDATE refresh_tokens SET rotated_at = $2, successor_hash = $3, successor_sealed = $4 WHERE token_hash = $1`, [
        presented,
        now,
        next.hash,
        request.sealSuccessor(owner),
      ]);
      await sql(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`, [
        next.hash,
        row.session_id,
        now,
        next.expiresAt,
      ]);
      await sql(`UPDATE sessions SET last_refreshed_at = $2 WHERE id = $1`, [row.session_id, now]);
      await sql(`UPDATE devices SET last_seen_at = $3 WHERE user_id = $1 AND device_id = $2`, [row.user_id, row.device_id, now]);
      return { kind: 'rotated', session: owner };
    });
  }

  /**
   * Revokes the session if `userId` owns it, and ends its refresh tokens.
   * Returns 'revoked' when it was live, 'already' when it was revoked before,
   * 'not_found' when `userId` has no such session.
   */
  async revokeSession(sessionId: string, userId: string, now: Date): Promise<'revoked' | 'already' | 'not_found'> {
    return inTransaction(this.db, async (sql) => {
      const owned = await sql<{ revoked: boolean }>(
        `SELECT revoked_at IS NOT NULL AS revoked FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE`,
        [sessionId, userId],
      );
      if (owned.length === 0) return 'not_found';
      if (owned[0]!.revoked) return 'already';
      await revokeSessionRows(sql, sessionId, now);
      return 'revoked';
    });
  }

  /** Revokes every live session of the user except `keepSessionId`; returns the ids revoked. */
  async revokeAllSessions(userId: string, now: Date, keepSessionId?: string): Promise<string[]> {
    return inTransaction(this.db, async (sql) => {
      const live = await sql<{ id: string }>(
        `SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 FOR UPDATE`,
        [userId, keepSessionId ?? null],
      );
      for (const { id } of live) await revokeSessionRows(sql, id, now);
      return live.map(({ id }) => id);
    });
  }

  /**
   * The user's sessions that can still refresh (not revoked, a live refresh
   * token), newest first, at most MAX_LISTED_SESSIONS.
   */
  async listLiveSessions(userId: string, now: Date): Promise<SessionRow[]> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ id: string; device_id: string; platform: string; created_at: Date; last_refreshed_at: Date }>(
        `SELECT s.id, s.device_id, d.platform, s.created_at, s.last_refreshed_at
           FROM sessions s
           JOIN devices d ON d.user_id = s.user_id AND d.device_id = s.device_id
          WHERE s.user_id = $1 AND s.revoked_at IS NULL
            AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.rotated_at IS NULL AND t.expires_at > $2)
          ORDER BY s.created_at DESC, s.id DESC
          LIMIT $3`,
        [userId, now, MAX_LISTED_SESSIONS],
      ),
    );
    return rows.map((row) => ({
      sessionId: row.id,
      deviceId: row.device_id,
      devicePlatform: row.platform,
      createdAt: row.created_at,
      lastRefreshedAt: row.last_refreshed_at,
    }));
  }

  /**
   * Whether a session may hold a connection: 'live', 'revoked' (or unknown), or
   * the user's ban. Concurrent questions share
   * queries (BatchedLookup): a reconnect storm of thousands of devices costs a
   * few dozen queries and at most two pool connections, not one of each per device.
   */
  sessionStanding(userId: string, sessionId: string): Promise<SessionStanding> {
    return this.standings.load({ userId, sessionId });
  }

  private async fetchStandings(keys: Array<{ userId: string; sessionId: string }>): Promise<Map<string, SessionStanding>> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ session_id: string; user_id: string; revoked: boolean; disabled: boolean; banned: boolean; ban_reason: string }>(
        `SELECT s.id AS session_id, s.user_id, s.revoked_at IS NOT NULL AS revoked, u.disabled_at IS NOT NULL AS disabled,
                u.banned_at IS NOT NULL AS banned, u.ban_reason
           FROM unnest($1::uuid[], $2::uuid[]) AS k(session_id, user_id)
           JOIN sessions s ON s.id = k.session_id AND s.user_id = k.user_id
           JOIN users u ON u.id = s.user_id`,
        [keys.map((key) => key.sessionId), keys.map((key) => key.userId)],
      ),
    );
    const standings = new Map<string, SessionStanding>();
    for (const row of rows) {
      const standing: SessionStanding = row.disabled
        ? { kind: 'revoked' }
        : row.banned
          ? { kind: 'banned', reason: row.ban_reason }
          : row.revoked
            ? { kind: 'revoked' }
            : { kind: 'live' };
      standings.set(standingKey({ userId: row.user_id, sessionId: row.session_id }), standing);
    }
    return standings;
  }

  /** Whether the user exists, is enabled and is not banned. */
  async userStanding(userId: string): Promise<UserStanding> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ disabled: boolean; banned: boolean; ban_reason: string }>(
        `SELECT disabled_at IS NOT NULL AS disabled, banned_at IS NOT NULL AS banned, ban_reason FROM users WHERE id = $1`,
        [userId],
      ),
    );
    const row = rows[0];
    if (!row || row.disabled) return { kind: 'unknown' };
    return row.banned ? { kind: 'banned', reason: row.ban_reason } : { kind: 'good' };
  }

  /**
   * Bans the user with `reason` (replacing an earlier reason) and revokes every
   * live session, atomically. Returns the revoked session ids, or undefined when
   * there is no such user.
   */
  async ban(userId: string, reason: string, now: Date): Promise<string[] | undefined> {
    return inTransaction(this.db, async (sql) => {
      const found = await sql<{ id: string }>(
        `UPDATE users SET banned_at = COALESCE(banned_at, $2), ban_reason = $3 WHERE id = $1 RETURNING id`,
        [userId, now, reason],
      );
      if (found.length === 0) return undefined;
      const live = await sql<{ id: string }>(`SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL FOR UPDATE`, [userId]);
      for (const { id } of live) await revokeSessionRows(sql, id, now);
      return live.map(({ id }) => id);
    });
  }

  /** Lifts a ban; false when there is no such user. */
  async unban(userId: string): Promise<boolean> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ id: string }>(`UPDATE users SET banned_at = NULL, ban_reason = '' WHERE id = $1 RETURNING id`, [userId]),
    );
    return rows.length > 0;
  }
}

/** Marks the session revoked, expires every refresh token of it that is still live and drops its sealed pairs. */
async function revokeSessionRows(sql: Sql, sessionId: string, now: Date): Promise<void> {
  await sql(`UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, [sessionId, now]);
  await sql(
    `UPDATE refresh_tokens SET expires_at = LEAST(expires_at, $2), successor_sealed = NULL
      WHERE session_id = $1 AND (expires_at > $2 OR successor_sealed IS NOT NULL)`,
    [sessionId, now],
  );
}
