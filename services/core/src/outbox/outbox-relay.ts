// The outbox relay (ARCHITECTURE.md delivery path, step 3). Claims due outbox
// rows, resolves each message's recipients (every member's live devices except
// the device that sent it, which has the reply), publishes one envelope per
// connect node per message, and deletes a row only after all its publishes
// resolved. The claimed rows of a conversation are published back to back in
// seq order and their confirms awaited together (one broker round trip per
// batch, not per message). A failed publish (or a stored message that cannot
// be decoded) reschedules the row with backoff and holds back the rows of that
// conversation not pushed yet, so pushes go in seq order except after a
// failure, when rows of the same batch that did go out arrive before the
// retried one (clients apply by seq and pull the gap).
//
// A row that has failed `maxAttempts` times is dead-lettered instead (moved to
// outbox_dead, one error log line, core_outbox_dead_total): its pushes are
// abandoned so the rest of its conversation can flow. The message stays stored
// and reaches every device by sync; requeue-dead.ts pushes it again.
//
// Woken in-process after each commit of this instance (wake), by LISTEN/NOTIFY
// for commits of other instances, and by a poll timer as the backstop. wake()
// also tells the other instances, with one NOTIFY after the commit: at most one
// in flight, and the wakes that arrive meanwhile share the next one, so a burst
// of sends costs a few NOTIFYs, not one per send. A crash between a commit and
// its NOTIFY delays the other instances' pass until their poll; this instance
// was woken in-process anyway.
import type { DeviceRoute, Logger } from '@im-mesh/platform';
import type { connectV1 } from '@im-mesh/contracts';
import type { CoreMetrics } from '../core-metrics.js';
import { toMessage } from '../messages/message-view.js';
import type { Pusher, PushResult } from '../push/pusher.js';
import { OUTBOX_CHANNEL, type MessageRow } from '../storage/message-store.js';
import { seesSeq, type ClaimedBatch, type ConversationRecipient, type OutboxRow, type OutboxStore } from '../storage/outbox-store.js';
import { CoalescedCall } from './coalesced-call.js';
import { OutboxListener } from './outbox-listener.js';
import { retryDelayMs } from './retry-backoff.js';
import { crashPoint } from '../faults/crash-point.js';

export interface OutboxRelayOptions {
  store: OutboxStore;
  pusher: Pusher;
  metrics: CoreMetrics;
  logger: Logger;
  /** For the dedicated LISTEN connection. */
  databaseUrl: string;
  /** Backstop poll interval, in milliseconds. */
  pollIntervalMs: number;
  /**
   * Rows claimed per transaction. 4,000 by default: under load a pass takes
   * hundreds of milliseconds whatever its size (each of its round trips waits
   * for a turn of an event loop shared with the sends), so the batch sets the
   * relay's pace. With 1,000 it fell behind saturating sends (2,300 deliveries/s
   * for 3,400 acked sends/s, the backlog and the latency growing for as long as
   * the load lasted); with 4,000 it keeps up and claims about 1,500 rows a pass
   * (bench/RESULTS.md). A batch holds its rows' content in memory: at most
   * 4,000 messages of at most 10,000 characters.
   */
  batchSize?: number;
  /** Failed attempts after which a row is dead-lettered (CORE_OUTBOX_MAX_ATTEMPTS). 20 by default. */
  maxAttempts?: number;
  /**
   * Called once a message's pushes are settled, with the members (not the
   * sender) who had no live device, for offline push notifications. Must not
   * throw or block: it runs inside the claim transaction.
   */
  onRecipientsOffline?: (message: MessageRow, offlineUserIds: string[]) => void;
}

interface FailedRow {
  row: OutboxRow;
  error: unknown;
}

interface BatchResult {
  claimed: number;
  /** Rows deleted or rescheduled: the batch changed something. */
  settled: number;
  /** Shortest backoff handed out, if any row failed. */
  retryInMs: number | undefined;
  /** Rows moved to outbox_dead, with their last error. */
  deadLettered: Array<{ row: OutboxRow; lastError: string }>;
}

export class OutboxRelay {
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly listener: OutboxListener;
  private stopped = true;
  private wakeRequested = false;
  private running: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDueAt = 0;
  /** The NOTIFY that wakes the other instances, one in flight at most. */
  private readonly announce: CoalescedCall;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 4000;
    this.maxAttempts = options.maxAttempts ?? 20;
    this.listener = new OutboxListener(options.databaseUrl, OUTBOX_CHANNEL, () => this.requestPass(), options.logger);
    this.announce = new CoalescedCall(() => this.listener.notifyOthers());
  }

  /** Starts listening and polling, and drains whatever an earlier run left behind. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.listener.start();
    this.pollTimer = setInterval(() => this.requestPass(), this.options.pollIntervalMs);
    this.pollTimer.unref();
    this.requestPass();
  }

  /**
   * Outbox rows were just committed here: relay them now, and wake the other
   * instances' relays (one coalesced NOTIFY), which may hold earlier rows of
   * the same conversations.
   */
  wake(): void {
    if (this.stopped) return;
    this.requestPass();
    this.announce.request();
  }

  /** Asks for a pass over the due rows; calls during a pass coalesce into one more pass. */
  private requestPass(): void {
    if (this.stopped) return;
    this.wakeRequested = true;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops waking, lets the batch in flight finish, closes the LISTEN connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    await this.running;
    await this.listener.stop();
  }

  private async drain(): Promise<void> {
    while (this.wakeRequested && !this.stopped) {
      this.wakeRequested = false;
      let result: BatchResult;
      do {
        try {
          result = await this.relayBatch();
        } catch (error) {
          // The database is unreachable or the batch broke mid-way: its claim rolled
          // back, so the rows are intact. The next poll tries again.
          this.options.logger.error({ err: error }, 'outbox relay pass failed');
          return;
        }
        if (result.retryInMs !== undefined) this.scheduleRetry(result.retryInMs);
        // Rows held back behind a row that is now dead may be due: look again.
        if (result.deadLettered.length > 0) this.wakeRequested = true;
        // A full batch that changed something suggests more rows are due right now.
      } while (result.claimed === this.batchSize && result.settled > 0 && !this.stopped);
    }
  }

  /** Wakes the relay when the earliest rescheduled row falls due (sooner than the next poll, usually). */
  private scheduleRetry(delayMs: number): void {
    const dueAt = Date.now() + delayMs;
    if (this.stopped || (this.retryTimer !== undefined && this.retryDueAt <= dueAt)) return;
    clearTimeout(this.retryTimer);
    this.retryDueAt = dueAt;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.requestPass();
      // A little slack: the row's due time was computed by the database clock.
    }, delayMs + 10);
    this.retryTimer.unref();
  }

  private async relayBatch(): Promise<BatchResult> {
    const result = await this.claimAndPublish();
    // Counted and logged once committed: a batch that rolled back dead-lettered nothing.
    for (const { row, lastError } of result.deadLettered) {
      this.options.metrics.outboxDead.inc();
      logDeadLetter(this.options.logger, row, lastError);
    }
    return result;
  }

  private claimAndPublish(): Promise<BatchResult> {
    return this.options.store.claim(this.batchSize, async (batch) => {
      if (batch.rows.length === 0) return { claimed: 0, settled: 0, retryInMs: undefined, deadLettered: [] };
      const claimedAt = performance.now();
      const { pusher, metrics } = this.options;
      const conversationIds = [...new Set(batch.rows.map((row) => row.conversation_id))];
      const { recipients } = batch;

      const sent: number[] = [];
      const failed: FailedRow[] = [];
      const offline: Array<{ rowId: number; message: MessageRow; userIds: string[] }> = [];
      let routes: Map<string, DeviceRoute[]>;
      try {
        routes = await pusher.routesOf([...recipients.values()].flat().map((recipient) => recipient.userId));
      } catch (error) {
        return this.settle(batch, sent, batch.rows.map((row) => ({ row, error })));
      }

      await Promise.all(
        conversationIds.map(async (conversationId) => {
          // Rows publish back to back, in seq order (the bus keeps call order on
          // its channel), and their confirms are awaited after: a conversation's
          // rate is no longer one broker round trip per message. A row that
          // failed before goes alone, and the rest only once it went out, so a
          // broker that refuses everything is asked once per pass, not per row.
          //
          // The first failure is the conversation's head: it is rescheduled and
          // holds back the rows not pushed yet. Later rows whose push went out
          // anyway are done (their devices have them; the client applies by seq
          // and pulls the gap); later failures stay as they are, behind the head.
          // A head failing for the last time is dead-lettered at settle, so the
          // next failure becomes the head.
          let issued: Array<{ row: OutboxRow; push: Promise<PushResult | undefined> }> = [];
          let held = false;
          const settleIssued = async () => {
            const settling = issued;
            issued = [];
            for (const { row, push } of settling) {
              try {
                const outcome = await push;
                sent.push(row.id);
                if (outcome && outcome.delivered > 0) {
                  metrics.deliveryLatency.observe((row.age_ms + (performance.now() - claimedAt)) / 1000);
                }
              } catch (error) {
                if (held) continue;
                failed.push({ row, error });
                if (!this.isExhausted(row)) held = true;
              }
            }
          };
          for (const row of publishableRows(batch.rows, conversationId)) {
            const retry = row.attempts > 0;
            if (retry) await settleIssued();
            if (held) break;
            issued.push({ row, push: this.pushRow(row, conversationId, recipients, routes, offline) });
            if (retry) await settleIssued();
            if (held) break;
          }
          await settleIssued();
        }),
      );
      if (sent.length > 0) crashPoint('after-confirm');
      const result = await this.settle(batch, sent, failed);
      const settled = new Set(sent);
      for (const notice of offline) {
        if (settled.has(notice.rowId)) this.options.onRecipientsOffline?.(notice.message, notice.userIds);
      }
      return result;
    });
  }

  /**
   * Starts the push of one claimed row, without waiting for it: resolves
   * undefined when there is nothing to push (the message is gone, or every
   * recipient is offline and will sync), and notes offline recipients.
   */
  private pushRow(
    row: OutboxRow,
    conversationId: string,
    recipients: Map<string, ConversationRecipient[]>,
    routes: Map<string, DeviceRoute[]>,
    offline: Array<{ rowId: number; message: MessageRow; userIds: string[] }>,
  ): Promise<PushResult | undefined> {
    const { message } = row;
    if (!message) {
      // The message was deleted after it was stored: there is nothing left to push.
      this.options.logger.warn({ outboxId: row.id, messageId: row.message_id }, 'outbox row without its message; dropping it');
      return Promise.resolve(undefined);
    }
    // Only those whose window holds this seq: a group member who left
    // before it, or joined after it, is not pushed it.
    const seeing = (recipients.get(conversationId) ?? []).filter((recipient) => seesSeq(recipient, message.seq)).map((r) => r.userId);
    const offlineUserIds = seeing.filter((userId) => userId !== message.sender_id && !routes.has(userId));
    if (offlineUserIds.length > 0) offline.push({ rowId: row.id, message, userIds: offlineUserIds });
    const targets = seeing
      .flatMap((userId) => routes.get(userId) ?? [])
      .filter((route) => !(route.userId === message.sender_id && route.deviceId === message.sender_device_id));
    // Every recipient offline: they will pull the message on sync.
    if (targets.length === 0) return Promise.resolve(undefined);
    let push: Promise<PushResult>;
    try {
      // Decoding the stored content is part of the attempt: a row that cannot be
      // decoded is rescheduled on its own instead of rolling back the batch.
      const frame: connectV1.ServerFrame = { kind: { $case: 'message', value: toMessage(message) } };
      push = this.options.pusher.publish('message', message.id, targets, frame);
    } catch (error) {
      push = Promise.reject(error);
    }
    // Settled in order by the caller; this only keeps an early rejection from being reported as unhandled.
    push.catch(() => undefined);
    return push;
  }

  /** True when the row's current attempt, if it fails, is its last. */
  private isExhausted(row: OutboxRow): boolean {
    return row.attempts + 1 >= this.maxAttempts;
  }

  private async settle(batch: ClaimedBatch, sent: number[], failed: FailedRow[]): Promise<BatchResult> {
    const { metrics, logger } = this.options;
    // Not awaited: the claim's COMMIT goes out right behind it (inTransaction)
    // and fails the claim if the DELETE failed, so its error is reported there.
    batch.markSent(sent).catch(() => undefined);
    let retryInMs: number | undefined;
    let retried: FailedRow | undefined;
    const deadLettered: BatchResult['deadLettered'] = [];
    for (const { row, error } of failed) {
      const reason = error instanceof Error ? error.message : String(error);
      if (this.isExhausted(row)) {
        await batch.deadLetter(row.id, reason);
        deadLettered.push({ row, lastError: reason });
        continue;
      }
      const delay = retryDelayMs(row.attempts + 1);
      await batch.reschedule(row.id, delay, reason);
      metrics.outboxRetries.inc();
      retried ??= { row, error };
      retryInMs = Math.min(retryInMs ?? delay, delay);
    }
    if (retried) {
      logger.warn(
        { failed: failed.length - deadLettered.length, retryInMs, err: retried.error },
        'outbox rows could not be pushed; kept for retry',
      );
    }
    return { claimed: batch.rows.length, settled: sent.length + failed.length, retryInMs, deadLettered };
  }
}

/**
 * The one line an operator acts on: which message, where, why, what it means
 * for users and what to run once the cause is fixed.
 */
function logDeadLetter(logger: Logger, row: OutboxRow, lastError: string): void {
  const attempts = row.attempts + 1;
  logger.error(
    { messageId: row.message_id, conversationId: row.conversation_id, seq: row.seq, outboxId: row.id, attempts, lastError },
    `outbox row dead-lettered: pushes for message ${row.message_id} (conversation ${row.conversation_id}, seq ${row.seq}) ` +
      `failed ${attempts} times, last error: ${lastError}. The message is stored and clients get it by sync; ` +
      `its live pushes were abandoned and later messages of the conversation go ahead. Once the cause is fixed, ` +
      `push it again with: node --import tsx services/core/src/outbox/requeue-dead.ts ${row.message_id}`,
  );
}

/**
 * The claimed rows of one conversation that may go out now, in id order: the
 * k-th may go only if exactly k rows of the conversation are pending before it
 * (the ones before it in this batch). Anything else means an earlier row is held
 * elsewhere, by another instance, and must go first.
 */
function publishableRows(rows: readonly OutboxRow[], conversationId: string): OutboxRow[] {
  const claimed = rows.filter((row) => row.conversation_id === conversationId);
  let prefix = 0;
  while (prefix < claimed.length && claimed[prefix]!.earlier_pending === prefix) prefix += 1;
  return claimed.slice(0, prefix);
}
