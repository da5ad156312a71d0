// DeliveryReporter: turns client acks into delivery watermarks for core. Acks are
// coalesced to the highest seq per (user, device, conversation) and sent to core's
// DeliveryService.ReportDelivered in batches: every `flushIntervalMs`, or at once
// when `batchSize` watermarks are waiting and core took the last batch. A batch
// that failed for a passing reason (core unreachable, overloaded, too slow) is
// kept and retried after a growing pause, never at once, so a core that fails
// fast cannot turn the reporter into a busy loop. A batch core refused for any
// other reason (INVALID_ARGUMENT, INTERNAL, ...) would fail the same way forever
// and hold back every watermark behind it, so it is dropped with a log line.
// While core stays away the buffer is bounded and the oldest watermarks are
// dropped (logged). Dropping is safe because a later ack or a client's
// DeliveredUpTo after sync moves the same watermark again.
import type { internalV1 } from '@im-mesh/contracts';
import type { Logger } from '@im-mesh/platform';
import { ClientError, Status } from 'nice-grpc';
import type { ConnectMetrics } from '../metrics.js';

export type ReportDelivered = (deliveries: internalV1.DeviceDelivery[]) => Promise<void>;

export interface DeliveryReporterOptions {
  report: ReportDelivered;
  logger: Logger;
  metrics: ConnectMetrics;
  /** Pause between batches, in ms. */
  flushIntervalMs: number;
  /** Largest batch, and the count of waiting watermarks that triggers a flush at once. */
  batchSize: number;
  /** Most watermarks kept while core is unreachable. */
  maxPending: number;
  /** Longest pause between retries after failures, in ms. 5 s by default. */
  maxRetryDelayMs?: number;
}

/** What became of one batch. */
type FlushOutcome = 'reported' | 'refused' | 'failed';

/** gRPC statuses that say "try again later"; any other status will not change on a retry. */
const RETRIED_STATUSES: ReadonlySet<Status> = new Set([
  Status.UNAVAILABLE,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.ABORTED,
]);

/** True when sending the same batch again may succeed. Errors without a gRPC status (the network) count as passing. */
function isWorthRetrying(error: unknown): boolean {
  return !(error instanceof ClientError) || RETRIED_STATUSES.has(error.code);
}

export class DeliveryReporter {
  private readonly pending = new Map<string, internalV1.DeviceDelivery>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failures = 0;
  private dropped = 0;
  private closed = false;

  constructor(private readonly options: DeliveryReporterOptions) {}

  /** Everything up to `seq` of the conversation reached the device. */
  record(userId: string, deviceId: string, conversationId: string, seq: number): void {
    const key = `${userId}\u0000${deviceId}\u0000${conversationId}`;
    const existing = this.pending.get(key);
    if (existing) {
      if (seq > existing.seq) existing.seq = seq;
      return;
    }
    this.pending.set(key, { userId, deviceId, conversationId, seq });
    this.trim();
    this.options.metrics.acksPending.set(this.pending.size);
    this.schedule();
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Sends what is waiting, batch by batch, until nothing is left or core fails;
   * then stops the timer. Used on shutdown after connections are closed.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    while (this.pending.size > 0) {
      if ((await this.flushOnce()) === 'failed') break;
    }
    if (this.pending.size > 0) {
      this.options.logger.warn({ count: this.pending.size }, 'delivery watermarks not reported at shutdown; clients will re-ack after sync');
    }
  }

  private schedule(): void {
    if (this.closed || this.flushing) return;
    // A full batch goes at once only while core is taking batches; after a failure
    // only the backoff timer sends, however full the buffer is.
    if (this.failures === 0 && this.pending.size >= this.options.batchSize) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.startFlush();
      return;
    }
    if (this.timer || this.pending.size === 0) return;
    const delay =
      this.failures === 0
        ? this.options.flushIntervalMs
        : Math.min(this.options.flushIntervalMs * 2 ** this.failures, this.options.maxRetryDelayMs ?? 5_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startFlush();
    }, delay);
    this.timer.unref();
  }

  private startFlush(): void {
    this.flushing = this.flushOnce()
      .then(() => undefined)
      .finally(() => {
        this.flushing = undefined;
        this.schedule();
      });
  }

  /** Sends one batch: core took it, refused it for good (dropped), or failed (kept for a retry). */
  private async flushOnce(): Promise<FlushOutcome> {
    const batch: internalV1.DeviceDelivery[] = [];
    for (const [key, delivery] of this.pending) {
      batch.push(delivery);
      this.pending.delete(key);
      if (batch.length >= this.options.batchSize) break;
    }
    if (batch.length === 0) return 'reported';
    try {
      await this.options.report(batch);
      this.failures = 0;
      return 'reported';
    } catch (error) {
      if (!isWorthRetrying(error)) {
        // Core answered, so it is reachable: the next batch may go at once.
        this.failures = 0;
        this.options.metrics.deliveryReportsDropped.inc(batch.length);
        this.options.logger.warn({ err: error, dropped: batch.length }, `core refused a batch of delivery watermarks; dropped ${batch.length} of them`);
        return 'refused';
      }
      this.failures += 1;
      this.options.logger.warn({ err: error, count: batch.length, failures: this.failures }, 'reporting deliveries to core failed; will retry');
      for (const delivery of batch) {
        const key = `${delivery.userId}\u0000${delivery.deviceId}\u0000${delivery.conversationId}`;
        const newer = this.pending.get(key);
        if (newer) newer.seq = Math.max(newer.seq, delivery.seq);
        else this.pending.set(key, delivery);
      }
      this.trim();
      return 'failed';
    } finally {
      this.options.metrics.acksPending.set(this.pending.size);
    }
  }

  /** Drops the oldest watermarks beyond the bound, with one log line per burst of drops. */
  private trim(): void {
    let dropped = 0;
    while (this.pending.size > this.options.maxPending) {
      this.pending.delete(this.pending.keys().next().value!);
      dropped += 1;
    }
    if (dropped === 0) return;
    this.options.metrics.deliveryReportsDropped.inc(dropped);
    const before = this.dropped;
    this.dropped += dropped;
    // Log when crossing each power of ten, so a long outage does not flood the log.
    if (before === 0 || Math.floor(Math.log10(this.dropped)) > Math.floor(Math.log10(before))) {
      this.options.logger.warn(
        { droppedTotal: this.dropped, maxPending: this.options.maxPending },
        'delivery watermark buffer full: dropping the oldest (clients repair them with DeliveredUpTo after sync)',
      );
    }
  }
}
