// Message search over messages.search_text: PostgreSQL full-text search
// ('simple' configuration, so no language's stemming or stop words get in the
// way) OR a case-insensitive substring match, which the pg_trgm GIN index
// serves for queries of 3+ characters and which finds Chinese or Japanese text
// (no spaces between words) by any substring. Only messages the searcher may
// see: their conversations, inside their window, not recalled, not deleted for
// them. Newest first by message id (UUIDv7, time-ordered).
import type { DataSource } from 'typeorm';
import { messageViewColumns, type MessageViewRow } from './message-view-sql.js';
import { withConnection } from './sql.js';

export interface SearchPage {
  userId: string;
  query: string;
  /** Only this conversation, when set. */
  conversationId?: string;
  /** Results older than this message id (the previous page's last). */
  beforeMessageId?: string;
  limit: number;
}

export class MessageSearchStore {
  constructor(private readonly database: DataSource) {}

  search(page: SearchPage): Promise<MessageViewRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<MessageViewRow>(
        `SELECT ${messageViewColumns(1)}
           FROM conversation_members cm
           JOIN messages m ON m.conversation_id = cm.conversation_id
          WHERE cm.user_id = $1
            AND ${page.conversationId !== undefined ? 'cm.conversation_id = $2::text' : '$2::text IS NULL'}
            AND m.search_text IS NOT NULL AND m.recalled_at IS NULL
            AND m.seq > cm.joined_seq AND (cm.left_seq IS NULL OR m.seq <= cm.left_seq)
            AND (m.search_text ILIKE $3 ESCAPE '\\' OR to_tsvector('simple', m.search_text) @@ plainto_tsquery('simple', $4))
            AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.user_id = $1 AND h.message_id = m.id)
            AND ${page.beforeMessageId !== undefined ? 'm.id < $5::uuid' : '$5::uuid IS NULL'}
          ORDER BY m.id DESC
          LIMIT $6`,
        [page.userId, page.conversationId ?? null, `%${escapeLike(page.query)}%`, page.query, page.beforeMessageId ?? null, page.limit],
      ),
    );
  }
}

/** The query as a literal inside a LIKE pattern (escape character: backslash). */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
