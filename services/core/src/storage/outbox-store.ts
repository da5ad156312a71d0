// The outbox: one row per stored message that still has to be pushed. The relay
// claims due rows under FOR UPDATE SKIP LOCKED (so any number of core instances
// share the work), and deletes a row only after its pushes were accepted by the
// bus. Never a "WHERE id > last_id" cursor: rows commit out of id order.
import type { DataSource } from 'typeorm';
import { loadMembers, type MessageRow } from './message-store.js';
import { inTransaction, withConnection, type Sql } from './sql.js';

export interface OutboxRow {
  id: number;
  message_id: string;
  conversation_id: string;
  seq: number;
  attempts: number;
  /** Milliseconds between the row's commit and its claim, by the database clock. */
  age_ms: number;
  /**
   * Rows of the same conversation still in the outbox with a smaller id, claimed
   * by us or not (another instance may hold them). The relay publishes the k-th
   * claimed row of a conversation only when this is k: every earlier row is in
   * its own hands, so per-conversation order holds across instances too.
   */
  earlier_pending: number;
  /** The message, or null if it was deleted after being stored. */
  message: MessageRow | null;
}

/** What the relay may do with a claimed batch while it holds the rows' locks. */
export interface ClaimedBatch {
  /** Claimed rows in id order. */
  rows: OutboxRow[];
  members(conversationIds: readonly string[]): Promise<Map<string, string[]>>;
  /** Deletes rows whose pushes were accepted. */
  markSent(ids: readonly number[]): Promise<void>;
  /** Counts a failed attempt and makes the row due again after `delayMs`. */
  reschedule(id: number, delayMs: number, error: string): Promise<void>;
}

export class OutboxStore {
  constructor(private readonly database: DataSource) {}

  /**
   * Claims up to `limit` due rows in id order and runs `work` while holding them;
   * the claim (and every markSent/reschedule) commits when `work` resolves and
   * rolls back when it throws, which leaves the rows for the next attempt.
   * Rows behind a conversation's backing-off row are not due either, so a failing
   * head cannot be overtaken by its successors.
   */
  async claim<T>(limit: number, work: (batch: ClaimedBatch) => Promise<T>): Promise<T> {
    return inTransaction(this.database, async (sql) => {
      const claimed = await sql.rows<ClaimedRow>(
        `SELECT o.id, o.message_id, o.conversation_id, o.seq, o.attempts,
                (extract(epoch FROM clock_timestamp() - o.created_at) * 1000)::float8 AS age_ms,
                (SELECT count(*)::int FROM outbox e WHERE e.conversation_id = o.conversation_id AND e.id < o.id) AS earlier_pending,
                m.id AS m_id, m.sender_id, m.sender_device_id, m.client_msg_id, m.content, m.created_at AS m_created_at
           FROM outbox o
           LEFT JOIN messages m ON m.id = o.message_id
          WHERE o.next_attempt_at <= now()
            AND NOT EXISTS (
              SELECT 1 FROM outbox e
               WHERE e.conversation_id = o.conversation_id AND e.id < o.id AND e.next_attempt_at > now())
          ORDER BY o.id
          LIMIT $1
          FOR UPDATE OF o SKIP LOCKED`,
        [limit],
      );
      const rows = claimed.map(toOutboxRow);
      return work(batchOf(sql, rows));
    });
  }

  /** Rows not yet pushed (the backlog gauge). */
  async backlog(): Promise<number> {
    return withConnection(this.database, async (sql) => {
      const [row] = await sql.rows<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
      return row?.n ?? 0;
    });
  }
}

function batchOf(sql: Sql, rows: OutboxRow[]): ClaimedBatch {
  return {
    rows,
    members: (conversationIds) => loadMembers(sql, conversationIds),
    async markSent(ids) {
      if (ids.length > 0) await sql.rows('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
    },
    async reschedule(id, delayMs, error) {
      await sql.rows(
        `UPDATE outbox SET attempts = attempts + 1,
                next_attempt_at = now() + make_interval(secs => $2::float8 / 1000),
                last_error = $3
          WHERE id = $1`,
        [id, delayMs, error.slice(0, 1000)],
      );
    },
  };
}

interface ClaimedRow extends Omit<OutboxRow, 'message'> {
  m_id: string | null;
  sender_id: string;
  sender_device_id: string;
  client_msg_id: string;
  content: Buffer;
  m_created_at: Date;
}

function toOutboxRow(row: ClaimedRow): OutboxRow {
  const { m_id, sender_id, sender_device_id, client_msg_id, content, m_created_at, ...outbox } = row;
  const message: MessageRow | null =
    m_id === null
      ? null
      : { id: m_id, conversation_id: row.conversation_id, seq: row.seq, sender_id, sender_device_id, client_msg_id, content, created_at: m_created_at };
  return { ...outbox, message };
}
