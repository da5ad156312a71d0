// DeliveryLedger: what one connection has been pushed. The bus delivers at least
// once, so recently pushed message ids are remembered to drop duplicates; pushed
// messages wait here, by id, for the client's ack, which then becomes a delivery
// watermark (conversation, seq) for core. Both are bounded: the oldest entries are
// forgotten first, which is safe because push is a hint and sync is the truth.
export interface MessagePosition {
  conversationId: string;
  seq: number;
}

/** How many recent message ids a connection remembers to drop bus duplicates. */
const RECENT_IDS = 1_024;

export class DeliveryLedger {
  private readonly recent = new Map<string, true>();
  private readonly awaited = new Map<string, MessagePosition>();

  constructor(private readonly maxAwaited: number, private readonly maxRecent = RECENT_IDS) {}

  /**
   * True the first time `messageId` is seen lately; false for a duplicate. A hit
   * makes the id the most recently used, so a burst of redeliveries keeps it.
   */
  firstSight(messageId: string): boolean {
    if (this.recent.has(messageId)) {
      this.recent.delete(messageId);
      this.recent.set(messageId, true);
      return false;
    }
    this.recent.set(messageId, true);
    if (this.recent.size > this.maxRecent) this.recent.delete(this.recent.keys().next().value!);
    return true;
  }

  /** Remembers a pushed message until the client acks it; the oldest is dropped beyond the bound. */
  awaitAck(messageId: string, position: MessagePosition): void {
    this.awaited.set(messageId, position);
    if (this.awaited.size > this.maxAwaited) this.awaited.delete(this.awaited.keys().next().value!);
  }

  /** The position of an awaited message, forgetting it; undefined for ids this connection was not pushed. */
  takeAwaited(messageId: string): MessagePosition | undefined {
    const position = this.awaited.get(messageId);
    if (position) this.awaited.delete(messageId);
    return position;
  }

  get awaitedCount(): number {
    return this.awaited.size;
  }
}
