// Per-user conversation state and the watermarks that receipts are made of:
// read_seq per member, delivered_seq per device. Watermarks only move forward and
// never past the conversation's last_seq.
import type { DataSource } from 'typeorm';
import { loadMembers } from './message-store.js';
import { fromPrefixed, messageViewColumns, type MessageViewRow } from './message-view-sql.js';
import { withConnection } from './sql.js';

export interface ConversationStateRow {
  conversation_id: string;
  type: number;
  last_seq: number;
  read_seq: number;
  delivered_seq: number;
  /** Direct conversations only, else null. */
  peer_user_id: string | null;
  peer_read_seq: number;
  peer_delivered_seq: number;
  /** The newest message the user may see (up to left_seq once removed), as they see it. */
  last_message: MessageViewRow | null;
  /** See ConversationState.unread_count in message.proto. */
  unread_count: number;
  muted: boolean;
  pinned_at: Date | null;
  hidden_version: number;
  /** Seqs up to it predate the user's membership. */
  joined_seq: number;
  /** The seq of the event that removed the user; 0 while a member. */
  left_seq: number;
}

/** Where a ListConversations page starts: the sort key of the last row of the previous page. */
export interface ConversationListCursor {
  pinnedAtMicros: number;
  activityMicros: number;
  conversationId: string;
}

export interface ConversationListRow extends ConversationStateRow {
  cursor: ConversationListCursor;
}

/**
 * The state of each conversation member row `m` (joined to conversations `c`)
 * for user $1 and device $2: watermarks, the direct peer, the last visible
 * message with its state, the unread count, and the user's settings.
 * Unread: messages after max(read_seq, joined_seq) and, once removed, up to
 * left_seq; sent by others; of the kinds people write (1-9: text to forward);
 * not recalled; not deleted for the user.
 */
function conversationStateSelect(extraColumns = ''): string {
  return `SELECT c.id AS conversation_id, c.type, LEAST(c.last_seq, COALESCE(m.left_seq, c.last_seq)) AS last_seq, m.read_seq,
                m.joined_seq, COALESCE(m.left_seq, 0) AS left_seq,
                COALESCE(own.delivered_seq, 0) AS delivered_seq,
                peer.user_id AS peer_user_id,
                COALESCE(peer.read_seq, 0) AS peer_read_seq,
                COALESCE(peer_cursor.delivered_seq, 0) AS peer_delivered_seq,
                m.muted, m.pinned_at, m.hidden_version,
                (SELECT count(*)::int FROM messages u
                  WHERE u.conversation_id = c.id AND u.seq > GREATEST(m.read_seq, m.joined_seq)
                    AND (m.left_seq IS NULL OR u.seq <= m.left_seq)
                    AND u.sender_id <> m.user_id AND u.kind BETWEEN 1 AND 9 AND u.recalled_at IS NULL
                    AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.user_id = m.user_id AND h.message_id = u.id)) AS unread_count,
                lm.* ${extraColumns}
           FROM conversation_members m
           JOIN conversations c ON c.id = m.conversation_id
           LEFT JOIN device_cursors own
             ON own.conversation_id = m.conversation_id AND own.user_id = m.user_id AND own.device_id = $2
           LEFT JOIN LATERAL (
             SELECT p.user_id, p.read_seq FROM conversation_members p
              WHERE c.type = 1 AND p.conversation_id = c.id AND p.user_id <> m.user_id
              LIMIT 1) peer ON true
           LEFT JOIN LATERAL (
             SELECT max(d.delivered_seq) AS delivered_seq FROM device_cursors d
              WHERE d.conversation_id = c.id AND d.user_id = peer.user_id) peer_cursor ON true
           LEFT JOIN LATERAL (
             SELECT ${messageViewColumns(1, 'm2', 'last_')} FROM messages m2
              WHERE m2.conversation_id = c.id AND m2.seq = LEAST(c.last_seq, COALESCE(m.left_seq, c.last_seq))
                AND m2.seq > m.joined_seq) lm ON true`;
}

export interface DeliveredReport {
  userId: string;
  deviceId: string;
  conversationId: string;
  seq: number;
}

export interface MovedCursor {
  conversationId: string;
  userId: string;
  deviceId: string;
  deliveredSeq: number;
}

export class ConversationStore {
  constructor(private readonly database: DataSource) {}

  /**
   * One page of the user's conversations ordered by id, starting after
   * `afterConversationId` ('' for the first page). `deviceId` picks the
   * delivered watermark reported as the caller's own.
   */
  async page(userId: string, deviceId: string, afterConversationId: string, limit: number): Promise<ConversationStateRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<Record<string, unknown>>(
        `${conversationStateSelect()}
          WHERE m.user_id = $1 AND m.conversation_id > $3
          ORDER BY m.conversation_id
          LIMIT $4`,
        [userId, deviceId, afterConversationId, limit],
      ),
    ).then((rows) => rows.map(toConversationState));
  }

  /**
   * The conversation list (ListConversations): pinned first (latest pin first),
   * then by last activity (the newest visible message, else when the user
   * joined), newest first; ties by id. Keyset-paged: `after` is the cursor of
   * the previous page's last row.
   */
  async list(userId: string, deviceId: string, after: ConversationListCursor | undefined, limit: number): Promise<ConversationListRow[]> {
    const sortColumns = `, COALESCE((extract(epoch FROM m.pinned_at) * 1000000)::bigint, 0) AS sort_pinned,
       (extract(epoch FROM COALESCE(lm.last_created_at, m.created_at)) * 1000000)::bigint AS sort_activity`;
    return withConnection(this.database, (sql) =>
      sql.rows<Record<string, unknown>>(
        `SELECT * FROM (
           ${conversationStateSelect(sortColumns)}
            WHERE m.user_id = $1
         ) listed
          WHERE $3::bigint IS NULL
             OR ROW(listed.sort_pinned, listed.sort_activity, listed.conversation_id) < ROW($3::bigint, $4::bigint, $5::text)
          ORDER BY listed.sort_pinned DESC, listed.sort_activity DESC, listed.conversation_id DESC
          LIMIT $6`,
        [userId, deviceId, after?.pinnedAtMicros ?? null, after?.activityMicros ?? 0, after?.conversationId ?? '', limit],
      ),
    ).then((rows) =>
      rows.map((row) => ({
        ...toConversationState(row),
        cursor: {
          pinnedAtMicros: row.sort_pinned as number,
          activityMicros: row.sort_activity as number,
          conversationId: row.conversation_id as string,
        },
      })),
    );
  }

  /** One conversation's state for the user, or undefined when they are not a member. */
  async state(conversationId: string, userId: string, deviceId: string): Promise<ConversationStateRow | undefined> {
    const [row] = await withConnection(this.database, (sql) =>
      sql.rows<Record<string, unknown>>(`${conversationStateSelect()} WHERE m.user_id = $1 AND m.conversation_id = $3`, [
        userId,
        deviceId,
        conversationId,
      ]),
    );
    return row && toConversationState(row);
  }

  /** Sets the user's mute and pin (undefined leaves a setting alone); false when not a member. */
  async updateSettings(conversationId: string, userId: string, settings: { muted?: boolean; pinned?: boolean }): Promise<boolean> {
    const rows = await withConnection(this.database, (sql) =>
      sql.rows(
        `UPDATE conversation_members
            SET muted = COALESCE($3::boolean, muted),
                pinned_at = CASE WHEN $4::boolean IS NULL THEN pinned_at
                                 WHEN $4::boolean THEN COALESCE(pinned_at, clock_timestamp())
                                 ELSE NULL END
          WHERE conversation_id = $1 AND user_id = $2
          RETURNING 1`,
        [conversationId, userId, settings.muted ?? null, settings.pinned ?? null],
      ),
    );
    return rows.length > 0;
  }

  /**
   * read_seq = GREATEST(read_seq, LEAST(seq, last_seq)). `moved` says whether this
   * call advanced it; `member: false` when the conversation does not exist or the
   * user is not in it.
   */
  async markRead(
    conversationId: string,
    userId: string,
    seq: number,
  ): Promise<{ member: false } | { member: true; readSeq: number; moved: boolean }> {
    return withConnection(this.database, async (sql) => {
      // The WHERE is re-checked under the row lock, so of two racing calls only
      // one can report the same move.
      const [moved] = await sql.rows<{ read_seq: number }>(
        `UPDATE conversation_members m SET read_seq = LEAST($3::bigint, c.last_seq)
           FROM conversations c
          WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2
            AND m.read_seq < LEAST($3::bigint, c.last_seq)
          RETURNING m.read_seq`,
        [conversationId, userId, seq],
      );
      if (moved) return { member: true, readSeq: moved.read_seq, moved: true };
      const [current] = await sql.rows<{ read_seq: number }>(
        'SELECT read_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
        [conversationId, userId],
      );
      return current ? { member: true, readSeq: current.read_seq, moved: false } : { member: false };
    });
  }

  /**
   * Applies a batch of delivered reports in one statement: per device the
   * highest report wins, capped at last_seq; reports from non-members are
   * ignored; a cursor only moves forward. Returns the cursors that moved.
   */
  async recordDelivered(reports: readonly DeliveredReport[]): Promise<MovedCursor[]> {
    if (reports.length === 0) return [];
    const rows = await withConnection(this.database, (sql) =>
      sql.rows<{ conversation_id: string; user_id: string; device_id: string; delivered_seq: number }>(
        `WITH reported AS (
           SELECT DISTINCT ON (r.conversation_id, r.user_id, r.device_id) r.*
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[]) AS r(user_id, device_id, conversation_id, seq)
            ORDER BY r.conversation_id, r.user_id, r.device_id, r.seq DESC
         ), capped AS (
           SELECT r.conversation_id, r.user_id, r.device_id, LEAST(r.seq, c.last_seq) AS seq
             FROM reported r
             JOIN conversation_members m ON m.conversation_id = r.conversation_id AND m.user_id = r.user_id
             JOIN conversations c ON c.id = r.conversation_id
            WHERE LEAST(r.seq, c.last_seq) > 0
         )
         INSERT INTO device_cursors AS d (conversation_id, user_id, device_id, delivered_seq, updated_at)
         SELECT conversation_id, user_id, device_id, seq, now() FROM capped
         ON CONFLICT (conversation_id, user_id, device_id) DO UPDATE
            SET delivered_seq = EXCLUDED.delivered_seq, updated_at = now()
          WHERE d.delivered_seq < EXCLUDED.delivered_seq
         RETURNING d.conversation_id, d.user_id, d.device_id, d.delivered_seq`,
        [
          reports.map((r) => r.userId),
          reports.map((r) => r.deviceId),
          reports.map((r) => r.conversationId),
          reports.map((r) => r.seq),
        ],
      ),
    );
    return rows.map((row) => ({
      conversationId: row.conversation_id,
      userId: row.user_id,
      deviceId: row.device_id,
      deliveredSeq: row.delivered_seq,
    }));
  }

  /** User ids of the conversation's current members (not those who left or were removed). */
  async currentMembers(conversationId: string): Promise<string[]> {
    const rows = await withConnection(this.database, (sql) =>
      sql.rows<{ user_id: string }>('SELECT user_id FROM conversation_members WHERE conversation_id = $1 AND left_seq IS NULL', [conversationId]),
    );
    return rows.map((row) => row.user_id);
  }

  /** Member user ids of each conversation. */
  async members(conversationIds: readonly string[]): Promise<Map<string, string[]>> {
    return withConnection(this.database, (sql) => loadMembers(sql, conversationIds));
  }
}

function toConversationState(row: Record<string, unknown>): ConversationStateRow {
  return {
    conversation_id: row.conversation_id as string,
    type: row.type as number,
    last_seq: row.last_seq as number,
    read_seq: row.read_seq as number,
    delivered_seq: row.delivered_seq as number,
    peer_user_id: (row.peer_user_id as string | null) ?? null,
    peer_read_seq: row.peer_read_seq as number,
    peer_delivered_seq: row.peer_delivered_seq as number,
    last_message: fromPrefixed(row, 'last_'),
    unread_count: row.unread_count as number,
    muted: row.muted as boolean,
    pinned_at: (row.pinned_at as Date | null) ?? null,
    hidden_version: row.hidden_version as number,
    joined_seq: row.joined_seq as number,
    left_seq: row.left_seq as number,
  };
}
