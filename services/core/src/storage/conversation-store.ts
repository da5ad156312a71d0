// Per-user conversation state and the watermarks that receipts are made of:
// read_seq per member, delivered_seq per device. Watermarks only move forward and
// never past the conversation's last_seq.
import type { DataSource } from 'typeorm';
import { loadMembers, type MessageRow } from './message-store.js';
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
  /** The message at last_seq, if any. */
  last_message: MessageRow | null;
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
      sql.rows<ConversationPageRow>(
        `SELECT c.id AS conversation_id, c.type, c.last_seq, m.read_seq,
                COALESCE(own.delivered_seq, 0) AS delivered_seq,
                peer.user_id AS peer_user_id,
                COALESCE(peer.read_seq, 0) AS peer_read_seq,
                COALESCE(peer_cursor.delivered_seq, 0) AS peer_delivered_seq,
                lm.id AS last_id, lm.sender_id AS last_sender_id,
                lm.sender_device_id AS last_sender_device_id, lm.client_msg_id AS last_client_msg_id,
                lm.content AS last_content, lm.created_at AS last_created_at
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
           LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq
          WHERE m.user_id = $1 AND m.conversation_id > $3
          ORDER BY m.conversation_id
          LIMIT $4`,
        [userId, deviceId, afterConversationId, limit],
      ),
    ).then((rows) => rows.map(toConversationState));
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

  /** Member user ids of each conversation. */
  async members(conversationIds: readonly string[]): Promise<Map<string, string[]>> {
    return withConnection(this.database, (sql) => loadMembers(sql, conversationIds));
  }
}

interface ConversationPageRow extends Omit<ConversationStateRow, 'last_message'> {
  last_id: string | null;
  last_sender_id: string;
  last_sender_device_id: string;
  last_client_msg_id: string;
  last_content: Buffer;
  last_created_at: Date;
}

function toConversationState(row: ConversationPageRow): ConversationStateRow {
  const { last_id, last_sender_id, last_sender_device_id, last_client_msg_id, last_content, last_created_at, ...state } = row;
  const last_message: MessageRow | null =
    last_id === null
      ? null
      : {
          id: last_id,
          conversation_id: row.conversation_id,
          seq: row.last_seq,
          sender_id: last_sender_id,
          sender_device_id: last_sender_device_id,
          client_msg_id: last_client_msg_id,
          content: last_content,
          created_at: last_created_at,
        };
  return { ...state, last_message };
}
