// MessageStream: the delivery algorithm of ARCHITECTURE.md step 6 around the pure
// DeliverySequencer. It turns pushes, sync pulls and gap pulls into one ordered,
// duplicate-free stream for the app, acks what was applied, and saves the
// per-conversation watermark.
//
// - On (re)connect, resync(): hold pushes, SyncConversations (every page), pull
//   each conversation from the local watermark up to its last_seq, release.
// - A push with seq == last + 1 applies at once; one further ahead waits
//   `gapWaitMs` for the missing ones, then the gap is pulled (and pulled again,
//   backing off, for as long as it stays open); seq <= last is dropped.
import type { messageV1 } from '@im-mesh/contracts';
import type { AckBatcher } from './ack-batcher.js';
import { DeliverySequencer, type AppliedMessage } from './delivery-sequencer.js';
import type { SyncStateStore } from './sync-state-store.js';

/** How a message reached the client; decides how it is acked. */
export type MessageOrigin = { kind: 'push'; connection: number } | { kind: 'pull' } | { kind: 'local' };

/** The two reads the stream needs, with the caller's auth, deadlines and retries applied. */
export interface SyncApi {
  syncConversations(pageToken: string): Promise<messageV1.SyncConversationsResponse>;
  pullMessages(conversationId: string, afterSeq: number, limit: number): Promise<messageV1.PullMessagesResponse>;
}

export interface MessageStreamOptions {
  readonly api: SyncApi;
  readonly store: SyncStateStore;
  readonly acks: AckBatcher;
  /** How long an early push waits for the ones before it before the gap is pulled, in ms. */
  readonly gapWaitMs: number;
  readonly onMessage: (message: messageV1.Message) => void;
  readonly onError: (error: unknown) => void;
}

const PULL_LIMIT = 500;
const MAX_GAP_RETRY_MS = 5_000;

export class MessageStream {
  private sequencer = new DeliverySequencer<MessageOrigin>();
  private loaded: Promise<void> | undefined;
  private readonly gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly gapPulls = new Set<string>();
  private readonly gapFailures = new Map<string, number>();
  /** Bumped whenever scheduled gap pulls must be forgotten (resync, stop). */
  private gapEpoch = 0;

  constructor(private readonly options: MessageStreamOptions) {}

  /** Loads the saved watermarks; once, before the first connection (a failed load is tried again next time). */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      this.sequencer = new DeliverySequencer<MessageOrigin>(await this.options.store.load());
    })().catch((error: unknown) => {
      this.loaded = undefined;
      throw error;
    });
    return this.loaded;
  }

  lastApplied(conversationId: string): number {
    return this.sequencer.lastApplied(conversationId);
  }

  /** A message pushed on connection number `connection`. */
  pushed(message: messageV1.Message, connection: number): void {
    const result = this.sequencer.offerPushed(message, { kind: 'push', connection });
    if (result.status === 'duplicate' && message.seq <= this.sequencer.lastApplied(message.conversationId)) {
      // Already applied (usually by a pull): ack it anyway so the server stops awaiting it.
      this.options.acks.addPushed(message.messageId, message.conversationId, message.seq, connection);
    }
    this.deliver(result.applied);
    if (result.status === 'buffered' || result.status === 'dropped') this.scheduleGap(message.conversationId);
  }

  /** A message this client just sent: the server confirmed it, so it is as good as a push. */
  local(message: messageV1.Message): void {
    const result = this.sequencer.offerPushed(message, { kind: 'local' });
    this.deliver(result.applied);
    if (result.status === 'buffered' || result.status === 'dropped') this.scheduleGap(message.conversationId);
  }

  /**
   * Brings every conversation up to date after a (re)connect; pushes that arrive
   * meanwhile are buffered and applied at the end. `stillWanted()` is checked
   * between calls so a resync for a dead connection stops early. Resolves to the
   * conversation states, for receipts.
   */
  async resync(stillWanted: () => boolean): Promise<messageV1.ConversationState[]> {
    this.sequencer.hold();
    this.stopGapPulls();
    const states: messageV1.ConversationState[] = [];
    let pageToken = '';
    do {
      const page = await this.options.api.syncConversations(pageToken);
      if (!stillWanted()) return states;
      states.push(...page.conversations);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');

    for (const state of states) {
      this.sequencer.noteLastSeq(state.conversationId, state.lastSeq);
      // A group joined with its history hidden starts after the join, not at seq 1.
      if (state.firstVisibleAfterSeq > 0) this.deliver(this.sequencer.noteFloor(state.conversationId, state.firstVisibleAfterSeq));
    }
    for (const state of states) {
      await this.pullUpTo(state.conversationId, state.lastSeq, stillWanted);
      if (!stillWanted()) return states;
      // The server may have missed acks sent just before a drop: restate the watermark.
      const applied = this.sequencer.lastApplied(state.conversationId);
      if (state.deliveredSeq < applied) this.options.acks.addDelivered(state.conversationId, applied);
    }
    this.deliver(this.sequencer.release());
    for (const gap of this.sequencer.gaps()) this.scheduleGap(gap.conversationId);
    return states;
  }

  /** Cancels scheduled gap pulls; pulls in flight still apply what they get. */
  stopGapPulls(): void {
    this.gapEpoch += 1;
    for (const timer of this.gapTimers.values()) clearTimeout(timer);
    this.gapTimers.clear();
    this.gapFailures.clear();
  }

  /** Pulls the conversation from the local watermark until `target`, or until the server has no more. */
  private async pullUpTo(conversationId: string, target: number, stillWanted: () => boolean): Promise<void> {
    while (stillWanted()) {
      const before = this.sequencer.lastApplied(conversationId);
      if (before >= target) return;
      const limit = Math.min(PULL_LIMIT, target - before);
      const page = await this.options.api.pullMessages(conversationId, before, limit);
      this.noteHiddenPrefix(conversationId, before, page.messages);
      this.deliver(this.sequencer.offerPulled(page.messages, { kind: 'pull' }));
      // No progress means the server has nothing more right now (a later seq may
      // still be committing); the gap logic picks it up after release.
      if (this.sequencer.lastApplied(conversationId) === before || !page.hasMore) return;
    }
  }

  private scheduleGap(conversationId: string, delayMs = this.options.gapWaitMs): void {
    if (this.gapTimers.has(conversationId) || this.gapPulls.has(conversationId)) return;
    if (this.sequencer.gap(conversationId) === undefined) return;
    const epoch = this.gapEpoch;
    const timer = setTimeout(() => {
      this.gapTimers.delete(conversationId);
      if (epoch === this.gapEpoch) void this.fillGap(conversationId, epoch);
    }, delayMs);
    this.gapTimers.set(conversationId, timer);
  }

  private async fillGap(conversationId: string, epoch: number): Promise<void> {
    const request = this.sequencer.gap(conversationId);
    if (request === undefined) return;
    this.gapPulls.add(conversationId);
    let progressed = false;
    try {
      const page = await this.options.api.pullMessages(conversationId, request.afterSeq, request.limit);
      this.noteHiddenPrefix(conversationId, request.afterSeq, page.messages);
      const applied = this.sequencer.offerPulled(page.messages, { kind: 'pull' });
      progressed = applied.length > 0;
      this.deliver(applied);
    } catch (error) {
      this.options.onError(error);
    } finally {
      this.gapPulls.delete(conversationId);
    }
    if (epoch !== this.gapEpoch) return;
    const failures = progressed ? 0 : (this.gapFailures.get(conversationId) ?? 0) + 1;
    this.gapFailures.set(conversationId, failures);
    // Progress: pull the rest at once. None: the missing seq may still be committing; back off.
    const delay = failures === 0 ? 0 : Math.min(MAX_GAP_RETRY_MS, this.options.gapWaitMs * 2 ** failures);
    this.scheduleGap(conversationId, delay);
  }

  /**
   * A pull after `afterSeq` that starts further on proves the seqs between are
   * not visible to this user: seqs commit in order under the conversation's
   * lock, so an earlier one cannot still be on its way. That happens to a
   * member invited into a group with hidden history whose first push (the
   * invite) arrives before any sync told it where its history starts. Only the
   * line's own watermark counts: a pull from elsewhere proves nothing.
   */
  private noteHiddenPrefix(conversationId: string, afterSeq: number, messages: readonly messageV1.Message[]): void {
    if (messages.length === 0 || this.sequencer.lastApplied(conversationId) !== afterSeq) return;
    const first = Math.min(...messages.map((message) => message.seq));
    if (first > afterSeq + 1) this.deliver(this.sequencer.noteFloor(conversationId, first - 1));
  }

  /** Hands applied messages to the app, then acks them and saves the watermarks. */
  private deliver(applied: readonly AppliedMessage<MessageOrigin>[]): void {
    if (applied.length === 0) return;
    const watermarks = new Map<string, number>();
    for (const { message, origin } of applied) {
      this.options.onMessage(message);
      watermarks.set(message.conversationId, message.seq);
      if (origin.kind === 'push') {
        this.options.acks.addPushed(message.messageId, message.conversationId, message.seq, origin.connection);
      } else if (origin.kind === 'pull') {
        this.options.acks.addDelivered(message.conversationId, message.seq);
      }
    }
    for (const [conversationId, seq] of watermarks) {
      try {
        const saving = this.options.store.save(conversationId, seq);
        if (saving instanceof Promise) saving.catch(this.options.onError);
      } catch (error) {
        this.options.onError(error);
      }
    }
  }
}
