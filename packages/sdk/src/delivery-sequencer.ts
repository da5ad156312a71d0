// DeliverySequencer: the client half of the delivery path (ARCHITECTURE.md, step 6)
// as a pure state machine with no I/O and no timers. It decides which messages
// can be handed to the app, keeps the ones that arrived early, drops the ones
// already applied, and says exactly which seq ranges must be pulled to close a gap.
//
// Invariant: per conversation, applied seqs are exactly 1, 2, 3, ... (continuing
// from the initial watermark), each once. A (conversation, seq) pair names one
// message, so dropping `seq <= last applied` is the dedupe by message id.
import type { messageV1 } from '@im-mesh/contracts';

type Message = messageV1.Message;

/** A message the app may now see, with whatever the caller attached when offering it. */
export interface AppliedMessage<Origin> {
  readonly message: Message;
  readonly origin: Origin;
}

/** What happened to one offered message. */
export type OfferStatus =
  /** Applied now (possibly with buffered successors, see `applied`). */
  | 'applied'
  /** Kept aside: it is ahead of the next expected seq, or pushes are held. */
  | 'buffered'
  /** Already applied or already buffered: ignore it. */
  | 'duplicate'
  /** Ahead and the buffer is full: it will be pulled with the gap instead. */
  | 'dropped';

export interface OfferResult<Origin> {
  readonly status: OfferStatus;
  /** Everything that became applicable, in seq order (empty unless status is 'applied'). */
  readonly applied: AppliedMessage<Origin>[];
}

/** Pull `PullMessages{conversation_id, after_seq: afterSeq, limit}` to close a gap. */
export interface GapRequest {
  readonly conversationId: string;
  readonly afterSeq: number;
  readonly limit: number;
}

export interface DeliverySequencerOptions {
  /** Early messages kept per conversation before further ones are dropped (and pulled later). Default 1000. */
  readonly maxBufferedPerConversation?: number;
  /** Largest `limit` of one gap request; PullMessages allows up to 500. Default 500. */
  readonly maxPullLimit?: number;
}

interface ConversationLine<Origin> {
  lastApplied: number;
  /** Highest seq known to exist (from pushes and SyncConversations). */
  knownLast: number;
  /** Messages ahead of lastApplied + 1, by seq. */
  buffered: Map<number, AppliedMessage<Origin>>;
}

export class DeliverySequencer<Origin = unknown> {
  private readonly lines = new Map<string, ConversationLine<Origin>>();
  private readonly maxBuffered: number;
  private readonly maxPullLimit: number;
  private holding = false;

  /** `initial` holds the persisted `[conversationId, lastAppliedSeq]` watermarks. */
  constructor(initial: Iterable<readonly [string, number]> = [], options: DeliverySequencerOptions = {}) {
    this.maxBuffered = options.maxBufferedPerConversation ?? 1000;
    this.maxPullLimit = options.maxPullLimit ?? 500;
    for (const [conversationId, seq] of initial) {
      const line = this.line(conversationId);
      line.lastApplied = Math.max(line.lastApplied, seq);
      line.knownLast = Math.max(line.knownLast, seq);
    }
  }

  /** The seq of the last message applied in the conversation, 0 when none. */
  lastApplied(conversationId: string): number {
    return this.lines.get(conversationId)?.lastApplied ?? 0;
  }

  /** Every conversation with at least one applied message, as `[conversationId, lastAppliedSeq]`. */
  watermarks(): Array<[string, number]> {
    return [...this.lines].filter(([, line]) => line.lastApplied > 0).map(([id, line]) => [id, line.lastApplied]);
  }

  get isHolding(): boolean {
    return this.holding;
  }

  /**
   * Starts a (re)sync: from now on pushes are only buffered, and no gaps are
   * reported, because the sync is about to pull everything that is missing.
   * Pulled messages still apply, and drain buffered pushes they make contiguous.
   */
  hold(): void {
    this.holding = true;
  }

  /** Ends the sync: applies every buffered message that is now contiguous. */
  release(): AppliedMessage<Origin>[] {
    this.holding = false;
    const applied: AppliedMessage<Origin>[] = [];
    for (const line of this.lines.values()) this.drain(line, applied);
    return applied;
  }

  /** Offers a message that arrived by push (or was just sent by this client). */
  offerPushed(message: Message, origin: Origin): OfferResult<Origin> {
    return this.offer(message, origin, this.holding);
  }

  /** Offers the result of one PullMessages call (or any other authoritative read), in any order. */
  offerPulled(messages: readonly Message[], origin: Origin): AppliedMessage<Origin>[] {
    const applied: AppliedMessage<Origin>[] = [];
    const sorted = [...messages].sort((a, b) => a.seq - b.seq);
    for (const message of sorted) applied.push(...this.offer(message, origin, false).applied);
    return applied;
  }

  /** Records that the conversation has messages up to `lastSeq` (from SyncConversations). */
  noteLastSeq(conversationId: string, lastSeq: number): void {
    const line = this.line(conversationId);
    line.knownLast = Math.max(line.knownLast, lastSeq);
  }

  /**
   * Records that nothing up to `floorSeq` is visible to this user (a group they
   * joined at that seq, with history hidden: ConversationState
   * first_visible_after_seq). The line starts after it, so the first visible
   * message applies at once instead of waiting forever for seqs the server will
   * never return. Applies buffered messages that become contiguous; returns them.
   */
  noteFloor(conversationId: string, floorSeq: number): AppliedMessage<Origin>[] {
    const line = this.line(conversationId);
    const applied: AppliedMessage<Origin>[] = [];
    if (!Number.isSafeInteger(floorSeq) || floorSeq <= line.lastApplied) return applied;
    line.lastApplied = floorSeq;
    line.knownLast = Math.max(line.knownLast, floorSeq);
    for (const seq of line.buffered.keys()) if (seq <= floorSeq) line.buffered.delete(seq);
    if (!this.holding) this.drain(line, applied);
    return applied;
  }

  /**
   * The one pull that closes the first gap of the conversation: from the last
   * applied seq up to just before the first buffered message (or up to the
   * highest known seq when nothing is buffered), capped at `maxPullLimit`.
   * Undefined when nothing is missing, or while holding.
   */
  gap(conversationId: string): GapRequest | undefined {
    const line = this.lines.get(conversationId);
    if (line === undefined || this.holding) return undefined;
    let target = line.knownLast;
    for (const seq of line.buffered.keys()) target = Math.min(target, seq - 1);
    if (target <= line.lastApplied) return undefined;
    return { conversationId, afterSeq: line.lastApplied, limit: Math.min(this.maxPullLimit, target - line.lastApplied) };
  }

  /** `gap()` of every conversation that has one. */
  gaps(): GapRequest[] {
    const requests: GapRequest[] = [];
    for (const conversationId of this.lines.keys()) {
      const request = this.gap(conversationId);
      if (request !== undefined) requests.push(request);
    }
    return requests;
  }

  private offer(message: Message, origin: Origin, holdOnly: boolean): OfferResult<Origin> {
    const line = this.line(message.conversationId);
    const seq = message.seq;
    if (!Number.isSafeInteger(seq) || seq < 1) return { status: 'dropped', applied: [] };
    line.knownLast = Math.max(line.knownLast, seq);
    if (seq <= line.lastApplied) return { status: 'duplicate', applied: [] };
    if (holdOnly || seq > line.lastApplied + 1) {
      if (line.buffered.has(seq)) return { status: 'duplicate', applied: [] };
      if (line.buffered.size >= this.maxBuffered) return { status: 'dropped', applied: [] };
      line.buffered.set(seq, { message, origin });
      return { status: 'buffered', applied: [] };
    }
    // The next expected message: apply it, replacing a held copy of it if there is one.
    line.buffered.delete(seq);
    const applied: AppliedMessage<Origin>[] = [{ message, origin }];
    line.lastApplied = seq;
    this.drain(line, applied);
    return { status: 'applied', applied };
  }

  /** Moves buffered messages that follow lastApplied without a hole into `applied`. */
  private drain(line: ConversationLine<Origin>, applied: AppliedMessage<Origin>[]): void {
    for (;;) {
      const next = line.buffered.get(line.lastApplied + 1);
      if (next === undefined) break;
      line.buffered.delete(line.lastApplied + 1);
      line.lastApplied += 1;
      applied.push(next);
    }
  }

  private line(conversationId: string): ConversationLine<Origin> {
    let line = this.lines.get(conversationId);
    if (line === undefined) {
      line = { lastApplied: 0, knownLast: 0, buffered: new Map() };
      this.lines.set(conversationId, line);
    }
    return line;
  }
}
