// AckBatcher: collects what the client applied and sends it as few Ack frames.
// Pushed messages are acked by id on the connection that pushed them; pulled
// ones as a per-conversation "delivered up to seq" watermark. A push whose
// connection is gone by flush time is acked by watermark instead, since the new
// connection never heard of its id. A failed send is folded back as watermarks
// and retried after a pause, so a sender is not left without its "delivered"
// until the next reconnect.
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
/** Pause before resending acks whose send failed, in ms. */
const RETRY_AFTER_FAILURE_MS = 1_000;

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
    raise(this.delivered, conversationId, seq);
    this.schedule();
  }

  /** Sends everything collected now, if a connection is live; resolves when the sends settled. */
  flush(): Promise<void> {
    this.clearTimer();
    const sink = this.sink();
    if (sink === undefined || (this.pushed.length === 0 && this.delivered.size === 0)) return Promise.resolve();
    const byId: PushedAck[] = [];
    const delivered = this.delivered;
    for (const item of this.pushed) {
      if (item.connection === sink.connection) byId.push(item);
      else raise(delivered, item.conversationId, item.seq);
    }
    this.pushed = [];
    this.delivered = new Map();
    const watermarks = [...delivered].map(([conversationId, seq]) => ({ conversationId, seq }));
    const sends: Promise<void>[] = [];
    for (let start = 0; start === 0 || start < byId.length; start += MAX_IDS_PER_FRAME) {
      const items = byId.slice(start, start + MAX_IDS_PER_FRAME);
      const ack: connectV1.Ack = {
        messageIds: items.map((item) => item.messageId),
        delivered: start === 0 ? watermarks : [],
      };
      sends.push(
        sink.send(ack).catch((error: unknown) => {
          // Keep what this frame covered, as watermarks (the ids may mean nothing
          // to the next connection), and try again after a pause.
          for (const item of items) raise(this.delivered, item.conversationId, item.seq);
          for (const mark of ack.delivered) raise(this.delivered, mark.conversationId, mark.seq);
          this.schedule(RETRY_AFTER_FAILURE_MS);
          this.onError(error);
        }),
      );
    }
    return Promise.all(sends).then(() => undefined);
  }

  /** Drops the timer (acks still collected are kept for the next flush). */
  stop(): void {
    this.clearTimer();
  }

  private schedule(delayMs = this.intervalMs): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function raise(watermarks: Map<string, number>, conversationId: string, seq: number): void {
  if (seq > (watermarks.get(conversationId) ?? 0)) watermarks.set(conversationId, seq);
}
