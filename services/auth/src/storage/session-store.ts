// Devices, sessions and refresh tokens in the auth schema. Refresh tokens are
// looked up by their SHA-256 only; the tokens themselves are never stored.
import type { DataSource } from 'typeorm';
import { inTransaction, type Sql } from './sql.js';

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

/**
 * What presenting a refresh token led to:
 * - rotated: it was live; it is now spent and `next` replaces it;
 * - reused: it had already been rotated, so someone replays it: the whole
 *   session is revoked (committed before this returns);
 * - rejected: unknown, expired, revoked session or disabled user.
 */
export type RotationOutcome =
  | { kind: 'rotated'; session: SessionOwner }
  | { kind: 'reused'; sessionId: string }
  | { kind: 'rejected' };

export class SessionStore {
  constructor(private readonly db: DataSource) {}

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
   * Spends the refresh token whose hash is `presented` and stores `next` in its
   * place, in one transaction. The presented row is locked first, so of two
   * concurrent uses of one token exactly one rotates; the other counts as reuse.
   */
  async rotateRefreshToken(presented: Buffer, next: StoredRefreshToken, now: Date): Promise<RotationOutcome> {
    return inTransaction(this.db, async (sql): Promise<RotationOutcome> => {
      const rows = await sql<{
        session_id: string;
        expires_at: Date;
        rotated_at: Date | null;
        user_id: string;
        device_id: string;
        session_revoked: boolean;
        user_disabled: boolean;
      }>(
        `SELECT t.session_id, t.expires_at, t.rotated_at, s.user_id, s.device_id,
                s.revoked_at IS NOT NULL AS session_revoked, u.disabled_at IS NOT NULL AS user_disabled
           FROM refresh_tokens t
           JOIN sessions s ON s.id = t.session_id
           JOIN users u ON u.id = s.user_id
          WHERE t.token_hash = $1
          FOR UPDATE OF t, s`,
        [presented],
      );
      const row = rows[0];
      if (!row || row.session_revoked || row.user_disabled) return { kind: 'rejected' };
      if (row.rotated_at !== null) {
        await revokeSessionRows(sql, row.session_id, now);
        return { kind: 'reused', sessionId: row.session_id };
      }
      if (row.expires_at.getTime() <= now.getTime()) return { kind: 'rejected' };
      await sql(`UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1`, [presented, now]);
      await sql(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`, [
        next.hash,
        row.session_id,
        now,
        next.expiresAt,
      ]);
      await sql(`UPDATE sessions SET last_refreshed_at = $2 WHERE id = $1`, [row.session_id, now]);
      await sql(`UPDATE devices SET last_seen_at = $3 WHERE user_id = $1 AND device_id = $2`, [row.user_id, row.device_id, now]);
      return { kind: 'rotated', session: { sessionId: row.session_id, userId: row.user_id, deviceId: row.device_id } };
    });
  }

  /** Revokes the session if `userId` owns it, and ends its refresh tokens. Revoking twice is harmless. */
  async revokeSession(sessionId: string, userId: string, now: Date): Promise<void> {
    await inTransaction(this.db, async (sql) => {
      const owned = await sql<{ id: string }>(`SELECT id FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE`, [
        sessionId,
        userId,
      ]);
      if (owned.length > 0) await revokeSessionRows(sql, sessionId, now);
    });
  }
}

/** Marks the session revoked and expires every refresh token of it that is still live. */
async function revokeSessionRows(sql: Sql, sessionId: string, now: Date): Promise<void> {
  await sql(`UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, [sessionId, now]);
  await sql(`UPDATE refresh_tokens SET expires_at = $2 WHERE session_id = $1 AND expires_at > $2`, [sessionId, now]);
}
