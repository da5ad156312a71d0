// Messages and conversations as SendMessage and PullMessages see them: the send
// transaction of ARCHITECTURE.md step 2, membership checks and ordered reads.
import type { DataSource } from 'typeorm';
import { messageViewColumns, VISIBLE_TO_MEMBER, type MessageViewRow } from './message-view-sql.js';
import { AbortError } from 'abort-controller-x';
import { AppError, ErrorCode, isDatabaseBusy, isDatabaseUnavailable } from '@im-mesh/platform';
import { byOrdinal, inTransaction, isUniqueViolation, withConnection, type Sql } from './sql.js';

/** NOTIFY channel on which a core instance wakes the others' outbox relays after it committed outbox rows. */
export const OUTBOX_CHANNEL = 'core_outbox';

export const CONVERSATION_DIRECT = 1;

export interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  sender_device_id: string;
  client_msg_id: string;
  /** Encoded im.message.v1.MessageContent. */
  content: Buffer;
  created_at: Date;
}

export interface StoredMessage {
  messageId: string;
  conversationId: string;
  seq: number;
  sentAt: Date;
}

export interface NewMessage {
  messageId: string;
  conversationId: string;
  /** For a direct conversation: both user ids. The conversation and both memberships are created if missing. */
  directMembers?: readonly [string, string];
  /**
   * For a direct conversation: the caller checked that the peer exists. Without
   * it, a missing direct conversation is answered with `peer_unconfirmed` and
   * nothing is written, so the directory is asked only for new conversations.
   */
  peerConfirmed?: boolean;
  senderId: string;
  senderDeviceId: string;
  clientMsgId: string;
  content: Uint8Array;
  /** Users mentioned; each must be a member of the conversation (checked here for non-direct targets). */
  mentionUserIds: readonly string[];
  /** The MessageContent field number of the content (messages.kind). */
  kind: number;
  /** What search matches for this message, or null when it has no text. */
  searchText: string | null;
  /**
   * The send policy (block lists, group membership and mutes...): runs on the
   * send's connection (in its transaction, if it has one: writeIn) once the
   * sender is known to be a member (or a new direct conversation is about to be
   * created), and refuses by throwing an AppError, before anything is written.
   */
  check?: (sql: Sql) => Promise<void>;
  /**
   * How sends written together are judged together: those to the same
   * conversation with the same `key` share one verdict (it depends only on the
   * conversation and what the key names, e.g. sender and kind), and one call of
   * `checkMany` per transaction judges one send of each such pair, answering per
   * send, by position, its refusal or undefined. So a batch spanning many
   * conversations costs one statement per policy instead of one per send. Unset:
   * `check` runs for this send alone.
   */
  sharedCheck?: { key: string; checkMany: CheckMany };
  /**
   * Runs right after the message row is written, in the same transaction (e.g.
   * recording the files it references). A send that has one is written in an
   * explicit transaction; one without is a single statement (writeIn).
   */
  afterStore?: (sql: Sql) => Promise<void>;
}

export type CheckMany = (sql: Sql, messages: readonly NewMessage[]) => Promise<Array<AppError | undefined>>;

export type SendOutcome =
  | { kind: 'stored'; message: StoredMessage }
  | { kind: 'duplicate'; message: StoredMessage }
  /** The conversation does not exist or the sender is not a member (deliberately one answer). */
  | { kind: 'not_member' }
  | { kind: 'unknown_mention' }
  /** The direct conversation does not exist yet; confirm the peer and send again with peerConfirmed. */
  | { kind: 'peer_unconfirmed' };

const MESSAGE_COLUMNS = 'id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content, created_at';

// One round trip before any write: the dedupe check, membership, and how many
// of the mentioned users are members.
const PREFLIGHT = `
  SELECT o.id, o.conversation_id, o.seq, o.created_at,
         EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = $3 AND user_id = $1) AS member,
         (SELECT count(*)::int FROM conversation_members WHERE conversation_id = $3 AND user_id = ANY($4::uuid[])) AS mentioned
    FROM (SELECT 1) AS one
    LEFT JOIN messages o ON o.sender_id = $1 AND o.client_msg_id = $2`;

const CREATE_DIRECT = `
  WITH conversation AS (
    INSERT INTO conversations (id, type) VALUES ($1, ${CONVERSATION_DIRECT}) ON CONFLICT DO NOTHING
  )
  INSERT INTO conversation_members (conversation_id, user_id) VALUES ($1, $2), ($1, $3) ON CONFLICT DO NOTHING`;

// Step 2 of the delivery path as one statement: the next seq under the
// conversation row's lock, the message and its outbox row. No NOTIFY in here:
// a transaction that notifies holds PostgreSQL's notification queue lock from
// its commit until the commit record is flushed, so every sender's commit would
// wait for the one before it (3.4x fewer commits per second in bench/). The
// caller wakes the relays after the commit instead (OutboxRelay.wake). A twin that committed first makes the message
// insert fail on messages_sender_client_msg_id_key. The outbox row takes
// clock_timestamp(), not now(): the relay measures commit-to-publish from it.
const STORE_MESSAGE = `
  WITH next AS (
    UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $2 RETURNING last_seq
  ), message AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content, kind, search_text)
    SELECT $1, $2, next.last_seq, $3, $4, $5, $6, $7, $8 FROM next
    RETURNING id, seq, created_at
  ), queued AS (
    INSERT INTO outbox (message_id, conversation_id, seq, created_at)
    SELECT id, $2, seq, clock_timestamp() FROM message
  )
  SELECT message.seq, message.created_at FROM message`;

// The preflight of several sends, of one or many conversations, in one round
// trip: per send (by position), its earlier twin if stored, and whether the
// sender is a member of its conversation.
const PREFLIGHT_MANY = `
  SELECT t.ord::int AS ord, o.id, o.conversation_id, o.seq, o.created_at,
         EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = t.conversation_id AND user_id = t.sender_id) AS member
    FROM unnest($1::text[], $2::uuid[], $3::text[]) WITH ORDINALITY AS t(conversation_id, sender_id, client_msg_id, ord)
    LEFT JOIN messages o ON o.sender_id = t.sender_id AND o.client_msg_id = t.client_msg_id`;

// STORE_MESSAGE for several messages of one or many conversations: each
// conversation's seqs are last_seq+1..+n in the order given, and outbox rows are
// inserted in (conversation, seq) order, since the relay reads a conversation's
// outbox in id order. The conversation rows are locked in id order first, so two
// core instances writing overlapping sets of conversations cannot deadlock.
const STORE_MESSAGES = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bytea[], $7::int[], $8::text[])
      WITH ORDINALITY AS t(conversation_id, id, sender_id, sender_device_id, client_msg_id, content, kind, search_text, ord)
  ), counts AS (
    SELECT conversation_id, count(*)::bigint AS n FROM input GROUP BY conversation_id
  ), locked AS (
    SELECT id FROM conversations WHERE id IN (SELECT conversation_id FROM counts) ORDER BY id FOR UPDATE
  ), next AS (
    UPDATE conversations c SET last_seq = c.last_seq + counts.n
      FROM counts, locked
     WHERE c.id = counts.conversation_id AND locked.id = c.id
    RETURNING c.id, c.last_seq, counts.n
  ), numbered AS (
    SELECT i.*, next.last_seq - next.n + row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord) AS seq
      FROM input i JOIN next ON next.id = i.conversation_id
  ), message AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content, kind, search_text)
    SELECT id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content, kind, search_text FROM numbered
    RETURNING id, conversation_id, seq, created_at
  ), queued AS (
    INSERT INTO outbox (message_id, conversation_id, seq, created_at)
    SELECT id, conversation_id, seq, clock_timestamp() FROM (SELECT id, conversation_id, seq FROM message ORDER BY conversation_id, seq) AS ordered
  )
  SELECT id, conversation_id, seq, created_at FROM message`;

interface Preflight {
  id: string | null;
  conversation_id: string | null;
  seq: number | null;
  created_at: Date | null;
  member: boolean;
  mentioned: number;
}

/** Sends of one conversation written in one transaction, at most. */
const MAX_SENDS_PER_CONVERSATION = 64;
/** Sends of all conversations written in one transaction, at most. */
const MAX_SENDS_PER_TRANSACTION = 256;

interface PendingSend {
  message: NewMessage;
  /** The caller's call; a send whose caller gave up while waiting is dropped, not written. */
  signal: AbortSignal | undefined;
  resolve: (outcome: SendOutcome) => void;
  reject: (error: unknown) => void;
}

interface SettledSend {
  pending: PendingSend;
  outcome?: SendOutcome;
  error?: unknown;
}

/**
 * The sends of one conversation waiting for its next transaction. Sends of a
 * conversation serialize on its row lock in PostgreSQL anyway (the next seq);
 * queueing them here instead keeps them from holding pool connections while
 * they wait for that lock, and lets the ones that queued up behind a commit
 * share the next one. A lane exists while it has sends waiting or in a
 * transaction; it is in `ready` while it waits for a transaction.
 */
interface ConversationLane {
  conversationId: string;
  waiting: PendingSend[];
}

export interface MessageStoreOptions {
  /**
   * Sends queued or being written at once, over all conversations. Beyond it a
   * send is refused at once with RESOURCE_EXHAUSTED and a retry hint, instead
   * of waiting in a queue that only grows while the database cannot keep up.
   * One conversation may have a tenth of it waiting (at least one batch).
   * 10,000 by default.
   */
  maxPendingSends?: number;
  /**
   * Send transactions in flight at once. While all are busy, the sends that
   * arrive wait and go together, whatever their conversations, in the next
   * free one. 4 by default.
   */
  maxSendTransactions?: number;
}

const SEND_QUEUE_FULL = 'The server has too many messages waiting to be stored. Send again in a moment; retrying with the same client_msg_id is safe.';

export class MessageStore {
  private readonly lanes = new Map<string, ConversationLane>();
  /** Lanes waiting for a transaction, oldest first (from `readyHead` on). */
  private ready: ConversationLane[] = [];
  private readyHead = 0;
  private transactionsInFlight = 0;
  private readonly maxPendingSends: number;
  private readonly maxWaitingPerConversation: number;
  private readonly maxSendTransactions: number;
  private pendingSends = 0;

  constructor(
    private readonly database: DataSource,
    options: MessageStoreOptions = {},
  ) {
    this.maxPendingSends = options.maxPendingSends ?? 10_000;
    this.maxWaitingPerConversation = Math.max(MAX_SENDS_PER_CONVERSATION, Math.floor(this.maxPendingSends / 10));
    this.maxSendTransactions = options.maxSendTransactions ?? 4;
  }

  /**
   * Stores a message exactly once per (sender, client_msg_id) (ARCHITECTURE.md
   * delivery path, step 2): dedupe check, membership, next seq, message, outbox
   * row, committed before this resolves. The caller wakes the relay then.
   * Rejections are decided before any write, so they store nothing. A
   * concurrent twin that loses the race on the unique key gets the winner's
   * result.
   *
   * One transaction per conversation is in flight at a time (per core
   * instance), and at most maxSendTransactions in all. Sends that arrive while
   * their conversation's transaction or every transaction is busy wait, and go
   * together in the next one, written with a few statements for all of them
   * (sendAllIn) however many conversations they belong to; each still gets its
   * own outcome: one refused send never takes the others with it. At low load
   * that is one send per transaction; under load one commit, one WAL flush and
   * one round trip per statement carry many.
   */
  send(message: NewMessage, signal?: AbortSignal): Promise<SendOutcome> {
    const lane = this.lanes.get(message.conversationId);
    // A conversation may hold a tenth of the queue, so one hot conversation
    // cannot make every other one wait or be refused.
    if (this.pendingSends >= this.maxPendingSends || (lane && lane.waiting.length >= this.maxWaitingPerConversation)) {
      return Promise.reject(new AppError(ErrorCode.ResourceExhausted, SEND_QUEUE_FULL, { reason: 'SEND_QUEUE_FULL', retryAfterMs: 1000 }));
    }
    if (signal?.aborted) return Promise.reject(new AbortError());
    this.pendingSends += 1;
    return new Promise<SendOutcome>((resolve, reject) => {
      let settledAlready = false;
      const settle = () => {
        if (settledAlready) return false;
        settledAlready = true;
        this.pendingSends -= 1;
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const pending: PendingSend = {
        message,
        signal,
        resolve: (outcome) => {
          if (settle()) resolve(outcome);
        },
        reject: (error) => {
          if (settle()) reject(error);
        },
      };
      // A caller that gives up while its send still waits frees its place at
      // once; a send already taken into a transaction is written either way.
      const onAbort = () => {
        const waiting = this.lanes.get(message.conversationId)?.waiting;
        const index = waiting?.indexOf(pending) ?? -1;
        if (index < 0) return;
        waiting!.splice(index, 1);
        pending.reject(new AbortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (lane) {
        // Waiting in `ready`, or in a transaction: then it is made ready again when that ends.
        lane.waiting.push(pending);
        return;
      }
      const opened: ConversationLane = { conversationId: message.conversationId, waiting: [pending] };
      this.lanes.set(message.conversationId, opened);
      this.ready.push(opened);
      this.startTransactions();
    });
  }

  /** Starts transactions for the ready lanes while fewer than maxSendTransactions run. */
  private startTransactions(): void {
    while (this.transactionsInFlight < this.maxSendTransactions && this.readyHead < this.ready.length) {
      const taken: Array<{ lane: ConversationLane; batch: PendingSend[] }> = [];
      let sends = 0;
      while (this.readyHead < this.ready.length && sends < MAX_SENDS_PER_TRANSACTION) {
        const lane = this.ready[this.readyHead]!;
        const batch = lane.waiting.splice(0, Math.min(MAX_SENDS_PER_CONVERSATION, MAX_SENDS_PER_TRANSACTION - sends));
        this.readyHead += 1;
        if (batch.length === 0) {
          // Every send it held was cancelled while waiting.
          this.lanes.delete(lane.conversationId);
          continue;
        }
        taken.push({ lane, batch });
        sends += batch.length;
      }
      if (this.readyHead === this.ready.length) {
        this.ready = [];
        this.readyHead = 0;
      } else if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
      if (taken.length === 0) return;
      this.transactionsInFlight += 1;
      void this.write(taken.map(({ batch }) => batch)).finally(() => {
        this.transactionsInFlight -= 1;
        for (const { lane } of taken) {
          if (lane.waiting.length > 0) this.ready.push(lane);
          else this.lanes.delete(lane.conversationId);
        }
        this.startTransactions();
      });
    }
  }

  /** One transaction's sends, grouped by conversation (each group in send order). */
  private async write(batches: PendingSend[][]): Promise<void> {
    try {
      await this.writeAcross(batches);
    } catch (error) {
      // The writers settle every send themselves; should one throw anyway, its
      // sends are failed rather than left waiting (settling twice does nothing).
      for (const pending of batches.flat()) pending.reject(error);
    }
  }

  private writeConversation(batch: readonly PendingSend[]): Promise<void> {
    return batch.length === 1 ? this.writeOne(batch[0]!) : this.writeMany(batch);
  }

  /**
   * Sends of one or several conversations; several share one transaction. A conversation whose
   * sends carry mentions, or that has to be created first (a new direct
   * conversation), is written on its own after it, so this slot holds one
   * connection at a time. Should the shared transaction fail (a twin committed
   * by another core instance, a statement failing for one send), nothing of it
   * was stored and each conversation is written again on its own, as if it had
   * been alone; if the database is unreachable or every connection busy, its
   * sends fail at once (retryable) instead of queueing more work.
   */
  private async writeAcross(batches: readonly PendingSend[][]): Promise<void> {
    const plain: PendingSend[][] = [];
    const withMentions: PendingSend[][] = [];
    for (const batch of batches) (batch.some((pending) => pending.message.mentionUserIds.length > 0) ? withMentions : plain).push(batch);
    const { again, newDirect } = plain.length > 1 ? await this.writeShared(plain) : { again: plain, newDirect: [] };
    for (const batch of [...again, ...withMentions]) await this.writeConversation(batch);
    // Known to need their conversation created first: straight to the send-by-send path.
    for (const batch of newDirect) await (batch.length === 1 ? this.writeOne(batch[0]!) : this.writeEachInSavepoint(batch));
  }

  /**
   * Writes `batches` in one transaction. Returns the batches to write again on
   * their own (all of them, if the transaction failed for a reason a retry may
   * not meet) and those of new direct conversations (left out of it).
   */
  private async writeShared(batches: readonly PendingSend[][]): Promise<{ again: readonly PendingSend[][]; newDirect: readonly PendingSend[][] }> {
    let written: { settled: SettledSend[]; deferred: ReadonlySet<string> };
    try {
      const all = batches.flat();
      written = await this.writeIn(all, (sql) => this.sendAllIn(sql, all));
    } catch (error) {
      if (isDatabaseOverloadedOrDown(error)) {
        for (const pending of batches.flat()) pending.reject(error);
        return { again: [], newDirect: [] };
      }
      return { again: batches, newDirect: [] };
    }
    settleAll(written.settled);
    return { again: [], newDirect: batches.filter((batch) => written.deferred.has(batch[0]!.message.conversationId)) };
  }

  private async writeOne(pending: PendingSend): Promise<void> {
    try {
      pending.resolve(await this.writeIn([pending], (sql) => this.sendIn(sql, pending.message)));
    } catch (error) {
      await this.settleFailure(pending, error);
    }
  }

  /**
   * Several sends of one conversation in one transaction. Outcomes are handed
   * out after the commit, since none is durable before it. The common batch goes
   * through sendAllIn; a batch with mentions, one that would create a direct
   * conversation, or one whose transaction failed on something other than a
   * refusal goes send by send in savepoints, so each send gets its own outcome
   * and one failing send fails alone. A twin committed by another core instance
   * under us (unique key) sends each one again alone. If the database is down or
   * every connection busy, the sends fail at once (retryable), as in writeShared.
   */
  private async writeMany(batch: readonly PendingSend[]): Promise<void> {
    if (batch.some((pending) => pending.message.mentionUserIds.length > 0)) {
      await this.writeEachInSavepoint(batch);
      return;
    }
    let written: { settled: SettledSend[]; deferred: ReadonlySet<string> };
    try {
      written = await this.writeIn(batch, (sql) => this.sendAllIn(sql, batch));
    } catch (error) {
      if (isDatabaseOverloadedOrDown(error)) {
        // Send by send would only queue more of what cannot be served now.
        for (const pending of batch) pending.reject(error);
      } else if (isUniqueViolation(error, 'messages_sender_client_msg_id_key')) {
        for (const pending of batch) await this.writeOne(pending);
      } else {
        // A statement that failed for one send (a timeout, a file swept after
        // its check): nothing was stored.
        await this.writeEachInSavepoint(batch);
      }
      return;
    }
    // A direct conversation to create first (nothing was written): send by send.
    if (written.deferred.size > 0) {
      await this.writeEachInSavepoint(batch);
      return;
    }
    settleAll(written.settled);
  }

  /**
   * Runs the statements that write `sends`: in one transaction when they write
   * more than the message rows, else on one connection without BEGIN and COMMIT.
   * The message, its seq and its outbox row are one statement (STORE_MESSAGE(S)),
   * atomic on its own, and the statements before it only read (the preflight,
   * the policies' checks), which under READ COMMITTED see the same inside a
   * transaction or outside: a new snapshot per statement. So the transaction
   * bought nothing but two round trips, each waiting for a turn of a busy event
   * loop (a send at 1,000 msg/s took 21 ms at p50, most of it waiting;
   * bench/RESULTS.md). What writes more keeps it: a message's afterStore (the
   * files it references) and a new direct conversation (peerConfirmed: the
   * conversation and its members are written before the message).
   */
  private writeIn<T>(sends: readonly PendingSend[], work: (sql: Sql) => Promise<T>): Promise<T> {
    const writesMore = sends.some(({ message }) => message.afterStore !== undefined || message.peerConfirmed === true);
    return writesMore ? inTransaction(this.database, work) : withConnection(this.database, work);
  }

  /**
   * The common batch (members of their conversations sending without mentions,
   * of one conversation or many, each conversation's sends in send order) in a
   * few statements however many sends it holds: one preflight, one checkMany
   * per kind of shared check, one insert. A send the check refuses is left out;
   * a twin of a send earlier in the batch gets that send's message; a sender who
   * is not a member of a group or system conversation gets not_member. A direct
   * conversation that has to be created first is for the one-by-one path: its
   * sends (all of them, so their order holds) are left out and named in `deferred`.
   */
  private async sendAllIn(sql: Sql, batch: readonly PendingSend[]): Promise<{ settled: SettledSend[]; deferred: ReadonlySet<string> }> {
    // The shared checks are asked together with the preflight, not after it: their
    // statements go out right behind it, one event-loop turn for both. They only
    // read, so asking about a send the preflight then answers (a twin stored
    // before, a non-member, a new direct conversation) costs nothing but a row.
    const [preflight, shared] = await Promise.all([
      sql.rows<Preflight & { ord: number }>(PREFLIGHT_MANY, [
        batch.map((pending) => pending.message.conversationId),
        batch.map((pending) => pending.message.senderId),
        batch.map((pending) => pending.message.clientMsgId),
      ]),
      this.sharedVerdicts(sql, batch),
    ]);
    // The preflight left-joins every input row, so each send has its row.
    const placed = byOrdinal(preflight, batch.length, (row) => row);
    const checked = batch.map((pending, index) => ({ pending, pre: placed[index]! }));
    const deferred = new Set(
      checked.filter(({ pending, pre }) => pending.message.directMembers && !pre.member && !pre.id).map(({ pending }) => pending.message.conversationId),
    );
    const written = checked.filter(({ pending }) => !deferred.has(pending.message.conversationId));
    const settled: SettledSend[] = [];
    const accepted: PendingSend[] = [];
    /** The first accepted send per (sender, client_msg_id), and the later twins that get its message. */
    const firstOfTwin = new Map<string, PendingSend>();
    const twins: Array<{ pending: PendingSend; first: PendingSend }> = [];
    for (const { pending, pre } of written) {
      const { message } = pending;
      if (pre.id) {
        settled.push({ pending, outcome: { kind: 'duplicate', message: { messageId: pre.id, conversationId: pre.conversation_id!, seq: pre.seq!, sentAt: pre.created_at! } } });
        continue;
      }
      // Before membership, as one by one: the twin would be stored by then, and answered as a duplicate.
      const first = firstOfTwin.get(twinKeyOf(message));
      if (first) {
        twins.push({ pending, first });
        continue;
      }
      if (!pre.member) {
        settled.push({ pending, outcome: { kind: 'not_member' } });
        continue;
      }
      const refusal = await verdictOf(sql, message, shared);
      if (refusal) {
        settled.push({ pending, error: refusal });
        continue;
      }
      firstOfTwin.set(twinKeyOf(message), pending);
      accepted.push(pending);
    }
    const stored = new Map<string, StoredMessage>();
    if (accepted.length > 0) {
      const messages = accepted.map(({ message }) => message);
      const rows = await sql.rows<{ id: string; conversation_id: string; seq: number; created_at: Date }>(STORE_MESSAGES, [
        messages.map((message) => message.conversationId),
        messages.map((message) => message.messageId),
        messages.map((message) => message.senderId),
        messages.map((message) => message.senderDeviceId),
        messages.map((message) => message.clientMsgId),
        messages.map((message) => Buffer.from(message.content)),
        messages.map((message) => message.kind),
        messages.map((message) => message.searchText),
      ]);
      for (const row of rows) stored.set(row.id, { messageId: row.id, conversationId: row.conversation_id, seq: row.seq, sentAt: row.created_at });
      for (const message of messages) await message.afterStore?.(sql);
    }
    const storedFor = (pending: PendingSend): StoredMessage => {
      const result = stored.get(pending.message.messageId);
      if (!result) throw new Error(`message ${pending.message.messageId} was not stored`);
      return result;
    };
    for (const pending of accepted) settled.push({ pending, outcome: { kind: 'stored', message: storedFor(pending) } });
    for (const { pending, first } of twins) settled.push({ pending, outcome: { kind: 'duplicate', message: storedFor(first) } });
    return { settled, deferred };
  }

  /**
   * The shared verdicts (refusal or undefined) of a batch's sends, by
   * verdictKey: one checkMany call per function, all issued at once, with the
   * first send of each distinct key; a later twin in the batch is not asked
   * about (it gets its first's message, or is judged alone).
   */
  private async sharedVerdicts(sql: Sql, batch: readonly PendingSend[]): Promise<Map<string, AppError | undefined>> {
    const asked = new Map<CheckMany, Map<string, NewMessage>>();
    const twinKeys = new Set<string>();
    for (const { message } of batch) {
      const key = verdictKey(message);
      const twinKey = twinKeyOf(message);
      if (twinKeys.has(twinKey) || !message.sharedCheck || key === undefined) continue;
      twinKeys.add(twinKey);
      const messages = asked.get(message.sharedCheck.checkMany) ?? new Map<string, NewMessage>();
      if (!messages.has(key)) messages.set(key, message);
      asked.set(message.sharedCheck.checkMany, messages);
    }
    const verdicts = new Map<string, AppError | undefined>();
    const answered = await Promise.all(
      [...asked].map(async ([checkMany, messages]) => ({ keys: [...messages.keys()], answers: await checkMany(sql, [...messages.values()]) })),
    );
    for (const { keys, answers } of answered) {
      // Fewer answers would let the rest through unchecked.
      if (answers.length !== keys.length) throw new Error(`checkMany answered ${answers.length} of ${keys.length} sends`);
      keys.forEach((key, i) => verdicts.set(key, answers[i]));
    }
    return verdicts;
  }

  /** Sends with mentions, or from someone not yet a member: each in a savepoint of its own. */
  private async writeEachInSavepoint(batch: readonly PendingSend[]): Promise<void> {
    let settled: SettledSend[];
    try {
      settled = await inTransaction(this.database, async (sql) => {
        const results: SettledSend[] = [];
        for (const pending of batch) {
          await sql.rows('SAVEPOINT send_message');
          try {
            results.push({ pending, outcome: await this.sendIn(sql, pending.message) });
          } catch (error) {
            await sql.rows('ROLLBACK TO SAVEPOINT send_message');
            results.push({ pending, error });
          }
          await sql.rows('RELEASE SAVEPOINT send_message');
        }
        return results;
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const { pending, outcome, error } of settled) {
      if (outcome) pending.resolve(outcome);
      else await this.settleFailure(pending, error);
    }
  }

  /** A twin that lost the race on the unique key gets the winner's result; anything else fails the send. */
  private async settleFailure(pending: PendingSend, error: unknown): Promise<void> {
    if (!isUniqueViolation(error, 'messages_sender_client_msg_id_key')) {
      pending.reject(error);
      return;
    }
    try {
      const { senderId, clientMsgId } = pending.message;
      const original = await withConnection(this.database, (sql) => findBySender(sql, senderId, clientMsgId));
      // The winner committed before our insert failed, so its row is visible now.
      if (original) pending.resolve({ kind: 'duplicate', message: original });
      else pending.reject(error);
    } catch (lookupError) {
      pending.reject(lookupError);
    }
  }

  private async sendIn(sql: Sql, message: NewMessage): Promise<SendOutcome> {
    const mentions = [...new Set(message.mentionUserIds)];
    const preflight = sql.rows<Preflight>(PREFLIGHT, [message.senderId, message.clientMsgId, message.conversationId, mentions]);
    // Asked together with the preflight, as in sendAllIn (the check only reads):
    // its statements go out right behind it. Its refusal counts only for a send
    // the preflight lets through.
    const checked: Promise<{ refusal: unknown } | undefined> = message.check
      ? message.check(sql).then(
          () => undefined,
          (refusal: unknown) => ({ refusal }),
        )
      : Promise.resolve(undefined);
    const passes = async () => {
      const verdict = await checked;
      if (verdict) throw verdict.refusal;
    };
    const [pre] = await preflight;
    if (pre?.id) {
      return {
        kind: 'duplicate',
        message: { messageId: pre.id, conversationId: pre.conversation_id!, seq: pre.seq!, sentAt: pre.created_at! },
      };
    }
    if (!pre?.member) {
      if (!message.directMembers) return { kind: 'not_member' };
      if (!message.peerConfirmed) return { kind: 'peer_unconfirmed' };
      await passes();
      await sql.rows(CREATE_DIRECT, [message.conversationId, message.directMembers[0], message.directMembers[1]]);
    } else if (!message.directMembers && pre.mentioned !== mentions.length) {
      return { kind: 'unknown_mention' };
    } else {
      await passes();
    }

    const stored = await storeMessageIn(sql, message);
    if (stored) await message.afterStore?.(sql);
    return stored ? { kind: 'stored', message: stored } : { kind: 'not_member' };
  }

  /**
   * A page of the messages `userId` may see in a conversation, as they read to
   * that user now (MessageViewRow), in seq order. Forwards (beforeSeq 0): the
   * `limit` oldest with seq > afterSeq. Backwards: the `limit` newest with
   * afterSeq < seq < beforeSeq. Only seqs inside the member's window count
   * (VISIBLE_TO_MEMBER). `member: false` when the user never was a member or
   * the conversation does not exist.
   */
  async pull(
    conversationId: string,
    userId: string,
    page: { afterSeq: number; beforeSeq: number; limit: number },
  ): Promise<{ member: false } | { member: true; rows: MessageViewRow[] }> {
    const backwards = page.beforeSeq > 0;
    const direction = backwards ? 'DESC' : 'ASC';
    // One round trip: whether the user is a member, and the page (a row of nulls
    // when it is empty). Reconnect storms pull once per client.
    const rows = await withConnection(this.database, (sql) =>
      sql.rows<MessageViewRow & { member: boolean; id: string | null }>(
        `SELECT EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2) AS member, page.*
           FROM (SELECT 1) AS one
           LEFT JOIN LATERAL (
             SELECT ${messageViewColumns(2)}
               FROM messages m
               JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
              WHERE m.conversation_id = $1 AND m.seq > $3 AND ${backwards ? 'm.seq < $4::bigint' : '$4::bigint = 0'} AND ${VISIBLE_TO_MEMBER}
              ORDER BY m.seq ${direction}
              LIMIT $5
           ) AS page ON true
          ORDER BY page.seq ${direction}`,
        [conversationId, userId, page.afterSeq, page.beforeSeq, page.limit],
      ),
    );
    if (!rows[0]?.member) return { member: false };
    const messages = rows.filter((row) => row.id !== null).map(({ member: _member, ...row }) => row as MessageViewRow);
    return { member: true, rows: backwards ? messages.reverse() : messages };
  }
}

/** Hands each written send its outcome, or its error. */
function settleAll(settled: readonly SettledSend[]): void {
  for (const { pending, outcome, error } of settled) {
    if (outcome) pending.resolve(outcome);
    else pending.reject(error);
  }
}

/** The database cannot take the work now: a retry in this instance would only add to it. */
function isDatabaseOverloadedOrDown(error: unknown): boolean {
  return isDatabaseBusy(error) || isDatabaseUnavailable(error);
}

/** What a shared verdict speaks for: its key names a judgement within one conversation (a block list, a group's mutes), and a batch may hold many. */
function verdictKey(message: NewMessage): string | undefined {
  return message.sharedCheck && `${message.conversationId}\u0000${message.sharedCheck.key}`;
}

function twinKeyOf(message: NewMessage): string {
  return `${message.senderId}\u0000${message.clientMsgId}`;
}

/** A send's refusal or undefined: its shared verdict when the batch took one, else its own check. */
async function verdictOf(sql: Sql, message: NewMessage, shared: ReadonlyMap<string, AppError | undefined>): Promise<AppError | undefined> {
  const key = verdictKey(message);
  if (key !== undefined && shared.has(key)) return shared.get(key);
  try {
    await message.check?.(sql);
    return undefined;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
}

/**
 * The insert half of the send transaction (next seq, message, outbox row) for
 * a message already checked; whoever commits it wakes the relay afterwards. Shared with the events that
 * recall, edit, react and pin, which take their seq the same way. Undefined when
 * the conversation does not exist.
 */
export async function storeMessageIn(
  sql: Sql,
  message: Pick<NewMessage, 'messageId' | 'conversationId' | 'senderId' | 'senderDeviceId' | 'clientMsgId' | 'content' | 'kind' | 'searchText'>,
): Promise<StoredMessage | undefined> {
  const [stored] = await sql.rows<{ seq: number; created_at: Date }>(STORE_MESSAGE, [
    message.messageId,
    message.conversationId,
    message.senderId,
    message.senderDeviceId,
    message.clientMsgId,
    Buffer.from(message.content),
    message.kind,
    message.searchText,
  ]);
  return stored && { messageId: message.messageId, conversationId: message.conversationId, seq: stored.seq, sentAt: stored.created_at };
}

async function findBySender(sql: Sql, senderId: string, clientMsgId: string): Promise<StoredMessage | undefined> {
  const [row] = await sql.rows<{ id: string; conversation_id: string; seq: number; created_at: Date }>(
    'SELECT id, conversation_id, seq, created_at FROM messages WHERE sender_id = $1 AND client_msg_id = $2',
    [senderId, clientMsgId],
  );
  return row && { messageId: row.id, conversationId: row.conversation_id, seq: row.seq, sentAt: row.created_at };
}

/** Messages by id, for the relay. */
export async function loadMessages(sql: Sql, ids: readonly string[]): Promise<MessageRow[]> {
  return sql.rows<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ANY($1::uuid[])`, [ids]);
}

/** Current member user ids per conversation. */
export async function loadMembers(sql: Sql, conversationIds: readonly string[]): Promise<Map<string, string[]>> {
  const rows = await sql.rows<{ conversation_id: string; user_id: string }>(
    // Former group members (left_seq set) get no receipts or other pushes of members.
    'SELECT conversation_id, user_id FROM conversation_members WHERE conversation_id = ANY($1::text[]) AND left_seq IS NULL',
    [conversationIds],
  );
  const members = new Map<string, string[]>();
  for (const row of rows) {
    const list = members.get(row.conversation_id) ?? [];
    list.push(row.user_id);
    members.set(row.conversation_id, list);
  }
  return members;
}
