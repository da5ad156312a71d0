// The state that message events change, and the reads that check an event is
// allowed: a message as its actor sees it (target), recall and edit state with
// the edit history, reactions, pins, and per-user hides (delete for me). Event
// features run their checks and writes in one transaction (`transaction`), so
// a refused event changes nothing and an accepted one updates the target row
// and appends its sequenced event message together.
import type { DataSource } from 'typeorm';
import { messageViewColumns, type MessageViewRow } from './message-view-sql.js';
import { inTransaction, withConnection, type Sql } from './sql.js';

/** A message as the acting user sees it, with where the actor stands. */
export interface TargetRow extends MessageViewRow {
  /** im.message.v1.ConversationType number. */
  conversation_type: number;
  /** The actor is a current member (not removed). */
  active: boolean;
  /** The message is inside the actor's visible window. */
  visible: boolean;
}

export interface EditRow {
  version: number;
  content: Buffer;
  replaced_at: Date;
}

export interface PinRow extends MessageViewRow {
  pinned_at: Date;
}

/** The reads and writes of one event transaction. */
export interface MessageStateTx {
  /** For send policies that need the open transaction. */
  readonly sql: Sql;
  /** The message as `viewerId` sees it, optionally locked until commit; undefined when there is none. */
  target(messageId: string, viewerId: string, lock: boolean): Promise<TargetRow | undefined>;
  /** Marks the message recalled by `recalledBy`, remembering the RecallEvent message that says so. */
  markRecalled(messageId: string, recalledBy: string, eventMessageId: string): Promise<void>;
  /** The RecallEvent of a recalled message. */
  recallEvent(messageId: string): Promise<{ messageId: string; seq: number } | undefined>;
  /** Keeps `previous` as version `editCount - 1` and stores the new content; returns edited_at. */
  replaceContent(messageId: string, previous: Buffer, content: Uint8Array, searchText: string | null, editCount: number): Promise<Date>;
  /** True when added (false: it was already there). */
  addReaction(messageId: string, userId: string, emoji: string): Promise<boolean>;
  /** True when removed (false: it was not there). */
  removeReaction(messageId: string, userId: string, emoji: string): Promise<boolean>;
  /** Distinct reactions of one user on one message. */
  reactionCount(messageId: string, userId: string): Promise<number>;
  /** True when pinned (false: already pinned). */
  pin(conversationId: string, messageId: string, pinnedBy: string): Promise<boolean>;
  /** True when unpinned (false: it was not pinned). */
  unpin(conversationId: string, messageId: string): Promise<boolean>;
  /** Pins of the conversation; locks the conversation row until commit. */
  pinCount(conversationId: string): Promise<number>;
}

export class MessageStateStore {
  constructor(private readonly database: DataSource) {}

  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: MessageStateTx) => Promise<T>): Promise<T> {
    return inTransaction(this.database, (sql) => work(stateTx(sql)));
  }

  /** One read outside a transaction. */
  target(messageId: string, viewerId: string): Promise<TargetRow | undefined> {
    return withConnection(this.database, (sql) => stateTx(sql).target(messageId, viewerId, false));
  }

  /** Earlier versions of a message, oldest first. */
  edits(messageId: string): Promise<EditRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<EditRow>('SELECT version, content, replaced_at FROM message_edits WHERE message_id = $1 ORDER BY version', [messageId]),
    );
  }

  /**
   * Hides messages of one conversation for one user, all or none: when any id
   * is not a message of that conversation inside the user's window, nothing is
   * hidden and `unknown` counts them. Otherwise the member's hidden_version is
   * bumped once if anything new was hidden, and returned. Undefined for a
   * non-member.
   */
  async hide(
    conversationId: string,
    userId: string,
    messageIds: readonly string[],
  ): Promise<{ hiddenVersion: number; unknown: number; changed: boolean } | undefined> {
    return inTransaction(this.database, async (sql) => {
      const [member] = await sql.rows<{ hidden_version: number }>(
        'SELECT hidden_version FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE',
        [conversationId, userId],
      );
      if (!member) return undefined;
      const visible = await sql.rows<{ id: string }>(
        `SELECT m.id FROM messages m
           JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
          WHERE m.conversation_id = $1 AND m.id = ANY($3::uuid[])
            AND m.seq > cm.joined_seq AND (cm.left_seq IS NULL OR m.seq <= cm.left_seq)`,
        [conversationId, userId, messageIds],
      );
      if (visible.length < messageIds.length) {
        return { hiddenVersion: member.hidden_version, unknown: messageIds.length - visible.length, changed: false };
      }
      const inserted = await sql.rows(
        `INSERT INTO message_hides (user_id, message_id, conversation_id)
         SELECT $2, id, $1 FROM unnest($3::uuid[]) AS id
         ON CONFLICT DO NOTHING RETURNING 1`,
        [conversationId, userId, messageIds],
      );
      if (inserted.length === 0) return { hiddenVersion: member.hidden_version, unknown: 0, changed: false };
      const [bumped] = await sql.rows<{ hidden_version: number }>(
        `UPDATE conversation_members SET hidden_version = hidden_version + 1
          WHERE conversation_id = $1 AND user_id = $2 RETURNING hidden_version`,
        [conversationId, userId],
      );
      return { hiddenVersion: bumped!.hidden_version, unknown: 0, changed: true };
    });
  }

  /** A conversation's pinned messages as `viewerId` sees them, newest pin first; undefined for a non-member. */
  async pins(conversationId: string, viewerId: string): Promise<PinRow[] | undefined> {
    return withConnection(this.database, async (sql) => {
      const [member] = await sql.rows<{ one: number }>(
        'SELECT 1 AS one FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
        [conversationId, viewerId],
      );
      if (!member) return undefined;
      return sql.rows<PinRow>(
        `SELECT ${messageViewColumns(2)}, p.pinned_at
           FROM conversation_pins p
           JOIN messages m ON m.id = p.message_id
           JOIN conversation_members cm ON cm.conversation_id = p.conversation_id AND cm.user_id = $2
          WHERE p.conversation_id = $1 AND m.seq > cm.joined_seq AND (cm.left_seq IS NULL OR m.seq <= cm.left_seq)
          ORDER BY p.pinned_at DESC, m.seq DESC`,
        [conversationId, viewerId],
      );
    });
  }
}

function stateTx(sql: Sql): MessageStateTx {
  return {
    sql,
    async target(messageId, viewerId, lock) {
      const [row] = await sql.rows<TargetRow>(
        `SELECT ${messageViewColumns(2)}, c.type AS conversation_type,
                (cm.user_id IS NOT NULL AND cm.left_seq IS NULL) AS active,
                (cm.user_id IS NOT NULL AND m.seq > cm.joined_seq AND (cm.left_seq IS NULL OR m.seq <= cm.left_seq)) AS visible
           FROM messages m
           JOIN conversations c ON c.id = m.conversation_id
           LEFT JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
          WHERE m.id = $1
          ${lock ? 'FOR UPDATE OF m' : ''}`,
        [messageId, viewerId],
      );
      return row;
    },
    async markRecalled(messageId, recalledBy, eventMessageId) {
      await sql.rows(
        'UPDATE messages SET recalled_at = now(), recalled_by = $2, recall_event_id = $3, search_text = NULL WHERE id = $1',
        [messageId, recalledBy, eventMessageId],
      );
    },
    async recallEvent(messageId) {
      const [row] = await sql.rows<{ id: string; seq: number }>(
        'SELECT e.id, e.seq FROM messages m JOIN messages e ON e.id = m.recall_event_id WHERE m.id = $1',
        [messageId],
      );
      return row && { messageId: row.id, seq: row.seq };
    },
    async replaceContent(messageId, previous, content, searchText, editCount) {
      await sql.rows('INSERT INTO message_edits (message_id, version, content) VALUES ($1, $2, $3)', [messageId, editCount - 1, previous]);
      const [row] = await sql.rows<{ edited_at: Date }>(
        `UPDATE messages SET content = $2, search_text = $3, edit_count = $4, edited_at = now()
          WHERE id = $1 RETURNING edited_at`,
        [messageId, Buffer.from(content), searchText, editCount],
      );
      return row!.edited_at;
    },
    async addReaction(messageId, userId, emoji) {
      const rows = await sql.rows(
        'INSERT INTO message_reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1',
        [messageId, userId, emoji],
      );
      return rows.length > 0;
    },
    async removeReaction(messageId, userId, emoji) {
      const rows = await sql.rows('DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 RETURNING 1', [
        messageId,
        userId,
        emoji,
      ]);
      return rows.length > 0;
    },
    async reactionCount(messageId, userId) {
      const [row] = await sql.rows<{ n: number }>('SELECT count(*)::int AS n FROM message_reactions WHERE message_id = $1 AND user_id = $2', [
        messageId,
        userId,
      ]);
      return row!.n;
    },
    async pin(conversationId, messageId, pinnedBy) {
      const rows = await sql.rows(
        'INSERT INTO conversation_pins (conversation_id, message_id, pinned_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1',
        [conversationId, messageId, pinnedBy],
      );
      return rows.length > 0;
    },
    async unpin(conversationId, messageId) {
      const rows = await sql.rows('DELETE FROM conversation_pins WHERE conversation_id = $1 AND message_id = $2 RETURNING 1', [
        conversationId,
        messageId,
      ]);
      return rows.length > 0;
    },
    async pinCount(conversationId) {
      // Holding the conversation row (its seq counter) until commit makes the
      // count and the pin that follows one step, so the limit holds under races.
      await sql.rows('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      const [row] = await sql.rows<{ n: number }>('SELECT count(*)::int AS n FROM conversation_pins WHERE conversation_id = $1', [conversationId]);
      return row!.n;
    },
  };
}
