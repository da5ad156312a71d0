// AckBatcher: collects what the client applied and sends it as few Ack frames.
// Pushed messages are acked by id on the connection that pushed them; pulled
// ones as a per-conversation "delivered up to seq" watermark. A push whose
// connection is gone by flush time is acked by watermark instead, since the new
// connection never heard of its id. Losing an ack is harmless: the next sync
// re-sends the watermark (see ImClient), so nothing here retries.
import type { connectV1 } from '@im-mesh/contracts';

/** Where acks go: the id of the live connection and how to send on it. */
export interface AckSink {
  readonly connection: number;
  send(ack: connectV1.Ack): Promise<void>;
}

interface PushedAck {
  readonly messageId: string;
  readonly conversationId: string;
  readonly seq: number;
  readonly connection: number;
}

/** Ids per Ack frame, so one frame stays far below any frame size limit. */
const MAX_IDS_PER_FRAME = 500;

export class AckBatcher {
  private pushed: PushedAck[] = [];
  private delivered = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `sink()` returns the live connection or undefined while there is none (acks
   * then wait for the next one). `onError` hears about failed sends.
   */
  constructor(
    private readonly intervalMs: number,
    private readonly sink: () => AckSink | undefined,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A pushed message (received on `connection`) was applied or was a duplicate of an applied one. */
  addPushed(messageId: string, conversationId: string, seq: number, connection: number): void {
    this.pushed.push({ messageId, conversationId, seq, connection });
    this.schedule();
  }

  /** Every message of the conversation up to `seq` was applied. */
  addDelivered(conversationId: string, seq: number): void {
    if (seq > (this.delivered.get(conversationId) ?? 0)) this.delivered.set(conversationId, seq);
    this.schedule();
  }

  /** Sends everything collected now, if a connection is live; resolves when the sends settled. */
  flush(): Promise<void> {
    this.clearTimer();
    const sink = this.sink();
    if (sink === undefined || (this.pushed.length === 0 && this.delivered.size === 0)) return Promise.resolve();
    const ids: string[] = [];
    const delivered = this.delivered;
    for (const item of this.pushed) {
      if (item.connection === sink.connection) ids.push(item.messageId);
      else if (item.seq > (delivered.get(item.conversationId) ?? 0)) delivered.set(item.conversationId, item.seq);
    }
    this.pushed = [];
    this.delivered = new Map();
    const watermarks = [...delivered].map(([conversationId, seq]) => ({ conversationId, seq }));
    const sends: Promise<void>[] = [];
    for (let start = 0; start === 0 || start < ids.length; start += MAX_IDS_PER_FRAME) {
      const ack: connectV1.Ack = {
        messageIds: ids.slice(start, start + MAX_IDS_PER_FRAME),
        delivered: start === 0 ? watermarks : [],
      };
      sends.push(sink.send(ack).catch(this.onError));
    }
    return Promise.all(sends).then(() => undefined);
  }

  /** Drops the timer (acks still collected are kept for the next flush). */
  stop(): void {
    this.clearTimer();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.intervalMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
