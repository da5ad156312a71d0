// The outbox: one row per stored message that still has to be pushed. The relay
// claims due rows under FOR UPDATE SKIP LOCKED (so any number of core instances
// share the work), and deletes a row only after its pushes were accepted by the
// bus. Never a "WHERE id > last_id" cursor: rows commit out of id order.
//
// A claim is nothing but those row locks, held by the claiming transaction: no
// column records who claimed a row. If the relay dies, its connection closes and
// PostgreSQL drops the locks with it; a relay stalled inside its transaction is
// cut off by idle_in_transaction_session_timeout (openDatabase sets it). Either
// way the rows are due again for every other instance, with no reaper needed.
//
// Rows that failed too often move to outbox_dead (see its migration), from where
// an operator requeues them (outbox/requeue-dead.ts).
import type { DataSource } from 'typeorm';
import { OUTBOX_CHANNEL, type MessageRow } from './message-store.js';
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
  /**
   * Per conversation of the batch, who may see its rows: current members and
   * former group members whose window (joined_seq, left_seq] reaches the
   * batch's earliest row of it. Filter per message with seesSeq.
   */
  recipients: Map<string, ConversationRecipient[]>;
  /**
   * Deletes rows whose pushes were accepted. Need not be awaited: the claim's
   * COMMIT goes out right behind it and fails the claim if it failed.
   */
  markSent(ids: readonly number[]): Promise<void>;
  /** Counts a failed attempt and makes the row due again after `delayMs`. */
  reschedule(id: number, delayMs: number, error: string): Promise<void>;
  /** Counts a failed attempt and moves the row to outbox_dead; its later rows are no longer held back. */
  deadLetter(id: number, error: string): Promise<void>;
}

/** A row in outbox_dead. */
export interface DeadOutboxRow {
  id: number;
  message_id: string;
  conversation_id: string;
  seq: number;
  attempts: number;
  last_error: string | null;
  dead_at: Date;
}

/** What the outbox gauges show, read in one statement. */
export interface OutboxStats {
  /** Rows not yet pushed, including rows waiting out a backoff. */
  pending: number;
  /** Seconds since the oldest pending row's send committed; 0 when none is pending. */
  oldestPendingAgeSeconds: number;
  /** Rows in outbox_dead. */
  dead: number;
}

// The claim: due rows in id order under FOR UPDATE SKIP LOCKED, with their
// messages; then, per row, how many rows of its conversation are pending before
// it (claimed by anyone), and on each conversation's first claimed row the
// conversation's recipients from that row's seq on (members, and former members
// whose left_seq reaches it) as JSON [user_id, joined_seq, left_seq] triples.
//
// The locking SELECT is a CTE of its own (FOR UPDATE allows no window function)
// and joins the messages itself: joined outside it, the planner, blind to how
// few rows the CTE returns, hashed the whole messages table on every claim.
// Pending rows before a row are counted once per conversation (before its first
// claimed row) plus what lies between consecutive claimed rows (nothing, unless
// another instance holds rows there), not from the start of the conversation
// for every row: each such count walks the index entries of every deleted row
// not yet vacuumed, and under a backlog that made a pass of 4,000 rows take
// seconds (bench/RESULTS.md).
const CLAIM = `
  WITH claimed AS (
    SELECT o.id, o.message_id, o.conversation_id, o.seq, o.attempts,
           (extract(epoch FROM clock_timestamp() - o.created_at) * 1000)::float8 AS age_ms,
           m.id AS m_id, m.sender_id, m.sender_device_id, m.client_msg_id, m.content, m.created_at AS m_created_at
      FROM outbox o
      LEFT JOIN messages m ON m.id = o.message_id
     WHERE o.next_attempt_at <= now()
       AND NOT EXISTS (
         SELECT 1 FROM outbox e
          WHERE e.conversation_id = o.conversation_id AND e.id < o.id AND e.next_attempt_at > now())
     ORDER BY o.id
     LIMIT $1
     FOR UPDATE OF o SKIP LOCKED
  ), placed AS (
    SELECT c.*, row_number() OVER w AS position, COALESCE(lag(c.id) OVER w, 0) AS previous_id
      FROM claimed c
    WINDOW w AS (PARTITION BY c.conversation_id ORDER BY c.id)
  ), gaps AS (
    SELECT p.*,
           (SELECT count(*) FROM outbox e
             WHERE e.conversation_id = p.conversation_id AND e.id > p.previous_id AND e.id < p.id) AS pending_between
      FROM placed p
  )
  SELECT g.id, g.message_id, g.conversation_id, g.seq, g.attempts, g.age_ms,
         (sum(g.pending_between) OVER (PARTITION BY g.conversation_id ORDER BY g.id) + g.position - 1)::int AS earlier_pending,
         CASE WHEN g.position = 1 THEN (
           SELECT COALESCE(json_agg(json_build_array(mb.user_id, mb.joined_seq, mb.left_seq)), '[]'::json)
             FROM conversation_members mb
            WHERE mb.conversation_id = g.conversation_id AND (mb.left_seq IS NULL OR mb.left_seq >= g.seq)
         ) END AS recipients,
         g.m_id, g.sender_id, g.sender_device_id, g.client_msg_id, g.content, g.m_created_at
    FROM gaps g
   ORDER BY g.id`;

export class OutboxStore {
  constructor(private readonly database: DataSource) {}

  /**
   * Claims up to `limit` due rows in id order and runs `work` while holding them;
   * the claim (and every markSent/reschedule) commits when `work` resolves and
   * rolls back when it throws, which leaves the rows for the next attempt.
   * Rows behind a conversation's backing-off row are not due either, so a failing
   * head cannot be overtaken by its successors. The rows come with their
   * messages and their conversations' recipients in the same statement: every
   * round trip of a pass waits for a turn of a busy event loop.
   */
  async claim<T>(limit: number, work: (batch: ClaimedBatch) => Promise<T>): Promise<T> {
    return inTransaction(this.database, async (sql) => {
      const claimed = await sql.rows<ClaimedRow>(CLAIM, [limit]);
      return work(batchOf(sql, claimed));
    });
  }

  /** Backlog, age of its oldest row and dead rows: one scan of the (normally small) outbox. */
  async stats(): Promise<OutboxStats> {
    return withConnection(this.database, async (sql) => {
      const [row] = await sql.rows<OutboxStats>(
        `SELECT count(*)::int AS pending,
                COALESCE(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 AS "oldestPendingAgeSeconds",
                (SELECT count(*)::int FROM outbox_dead) AS dead
           FROM outbox`,
      );
      return row ?? { pending: 0, oldestPendingAgeSeconds: 0, dead: 0 };
    });
  }

  /** Dead rows in id order: all of them, or those of the given messages. */
  async listDead(messageIds?: readonly string[]): Promise<DeadOutboxRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<DeadOutboxRow>(
        `SELECT id, message_id, conversation_id, seq, attempts, last_error, dead_at
           FROM outbox_dead
          WHERE $1::uuid[] IS NULL OR message_id = ANY($1::uuid[])
          ORDER BY id`,
        [messageIds ?? null],
      ),
    );
  }

  /**
   * Moves dead rows (all, or those of the given messages) back into the outbox,
   * due now with a fresh attempt budget, under their original id, so each goes
   * out before any later row of its conversation still pending. Notifies the
   * relays in the same transaction. Returns the requeued rows in id order.
   */
  async requeueDead(messageIds?: readonly string[]): Promise<DeadOutboxRow[]> {
    return inTransaction(this.database, async (sql) => {
      const moved = await sql.rows<DeadOutboxRow>(
        `WITH moved AS (
           DELETE FROM outbox_dead
            WHERE $1::uuid[] IS NULL OR message_id = ANY($1::uuid[])
            RETURNING id, message_id, conversation_id, seq, created_at, attempts, last_error, dead_at
         ), requeued AS (
           INSERT INTO outbox (id, message_id, conversation_id, seq, created_at, attempts, next_attempt_at)
           SELECT id, message_id, conversation_id, seq, created_at, 0, now() FROM moved
         )
         SELECT id, message_id, conversation_id, seq, attempts, last_error, dead_at FROM moved ORDER BY id`,
        [messageIds ?? null],
      );
      if (moved.length > 0) await sql.rows(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
      return moved;
    });
  }
}

function batchOf(sql: Sql, claimed: readonly ClaimedRow[]): ClaimedBatch {
  const recipients = new Map<string, ConversationRecipient[]>();
  for (const row of claimed) {
    if (row.recipients !== null) recipients.set(row.conversation_id, row.recipients.map(([userId, joinedSeq, leftSeq]) => ({ userId, joinedSeq, leftSeq })));
  }
  return {
    rows: claimed.map(toOutboxRow),
    recipients,
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
    async deadLetter(id, error) {
      await sql.rows(
        `WITH dead AS (DELETE FROM outbox WHERE id = $1 RETURNING id, message_id, conversation_id, seq, created_at, attempts)
         INSERT INTO outbox_dead (id, message_id, conversation_id, seq, created_at, attempts, last_error)
         SELECT id, message_id, conversation_id, seq, created_at, attempts + 1, $2 FROM dead`,
        [id, error.slice(0, 1000)],
      );
    },
  };
}

interface ClaimedRow extends Omit<OutboxRow, 'message'> {
  /** On the conversation's first claimed row only: [user_id, joined_seq, left_seq] of each recipient. */
  recipients: Array<[string, number, number | null]> | null;
  m_id: string | null;
  sender_id: string;
  sender_device_id: string;
  client_msg_id: string;
  content: Buffer;
  m_created_at: Date;
}

function toOutboxRow(row: ClaimedRow): OutboxRow {
  const { m_id, sender_id, sender_device_id, client_msg_id, content, m_created_at, recipients: _recipients, ...outbox } = row;
  const message: MessageRow | null =
    m_id === null
      ? null
      : { id: m_id, conversation_id: row.conversation_id, seq: row.seq, sender_id, sender_device_id, client_msg_id, content, created_at: m_created_at };
  return { ...outbox, message };
}

/** A member and the seqs they may see: (joinedSeq, leftSeq], leftSeq null while a member. */
export interface ConversationRecipient {
  userId: string;
  joinedSeq: number;
  leftSeq: number | null;
}

/**
 * True when `recipient` may see the message at `seq`: a member who joined after
 * it, or left before it, gets no push of it (a kicked member still gets the
 * event that kicked them, at their left_seq).
 */
export function seesSeq(recipient: ConversationRecipient, seq: number): boolean {
  return seq > recipient.joinedSeq && (recipient.leftSeq === null || seq <= recipient.leftSeq);
}
