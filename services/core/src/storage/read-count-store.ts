// Group read counts from read watermarks: a member has read message `seq` when
// their read_seq >= seq. Counted over the conversation's current members who
// were there when the message was sent (joined_seq < seq), the sender excluded,
// so the cost is O(members) per message and nothing is written per message.
import type { DataSource } from 'typeorm';
import { withConnection } from './sql.js';

export interface ReadCountRow {
  id: string;
  read_count: number;
  unread_count: number;
}

export interface ReadersRow {
  reader: string;
  has_read: boolean;
}

// The messages `viewer` ($2) may see among those asked, each with the members it counts.
const COUNTED_MEMBERS = `
  FROM messages t
  JOIN conversation_members viewer
    ON viewer.conversation_id = t.conversation_id AND viewer.user_id = $2
   AND t.seq > viewer.joined_seq AND (viewer.left_seq IS NULL OR t.seq <= viewer.left_seq)
  LEFT JOIN conversation_members cm
    ON cm.conversation_id = t.conversation_id AND cm.user_id <> t.sender_id
   AND cm.joined_seq < t.seq AND cm.left_seq IS NULL`;

export class ReadCountStore {
  constructor(private readonly database: DataSource) {}

  /** Counts for the messages of `conversationId` among `messageIds` that `viewerId` may see (others are absent). */
  counts(conversationId: string, viewerId: string, messageIds: readonly string[]): Promise<ReadCountRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<ReadCountRow>(
        `SELECT t.id,
                count(cm.user_id) FILTER (WHERE cm.read_seq >= t.seq)::int AS read_count,
                count(cm.user_id) FILTER (WHERE cm.read_seq < t.seq)::int AS unread_count
           ${COUNTED_MEMBERS}
          WHERE t.conversation_id = $1 AND t.id = ANY($3::uuid[])
          GROUP BY t.id`,
        [conversationId, viewerId, messageIds],
      ),
    );
  }

  /**
   * Who has read one message and who has not, sorted by user id; undefined
   * when `viewerId` may not see it.
   */
  async readers(messageId: string, viewerId: string): Promise<ReadersRow[] | undefined> {
    return withConnection(this.database, async (sql) => {
      const rows = await sql.rows<{ reader: string | null; has_read: boolean | null }>(
        `SELECT cm.user_id::text AS reader, cm.read_seq >= t.seq AS has_read
           ${COUNTED_MEMBERS}
          WHERE t.id = $1
          ORDER BY cm.user_id`,
        [messageId, viewerId],
      );
      if (rows.length === 0) return undefined;
      // A visible message with nobody counted comes back as one row of NULLs (the LEFT JOIN).
      return rows.filter((row): row is ReadersRow => row.reader !== null);
    });
  }
}
