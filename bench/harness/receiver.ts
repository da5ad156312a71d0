// One benchmark device's long connection, on the raw protocol: a `ws` WebSocket
// to /ws carrying binary ClientFrame/ServerFrame with the generated codecs of
// @im-mesh/contracts, authenticated by the `im.auth.<jwt>` subprotocol, exactly
// as the SDK's websocket transport does it.
//
// Why not the SDK's ImClient: a load process holds up to 5,000 of these, and
// ImClient brings per connection a supervisor with its own timers, a sync state
// store, a sequencer and listeners; the load generator would measure itself.
// Here a worker drives all its connections from two shared timers (acks, pings)
// and keeps per connection only what the loss check needs: the seqs it has seen.
import { connectV1, type messageV1 } from '@im-mesh/contracts';
import WebSocket from 'ws';
import type { LatencyHistogram, PerSecondSeries } from './latency-histogram.js';
import { monotonicNs, sentAtOf, type ReceiverSpec } from './load-protocol.js';

const AUTH_TIMEOUT_MS = 30_000;

export interface ReceiverSink {
  readonly series: PerSecondSeries;
  readonly latency: LatencyHistogram;
  /** Whether deliveries are timed (a storm's backlog is counted, not timed). */
  timing: boolean;
  /** `deliveries` counts bench sends only; `otherMessages` the rest (group events), which no sender acked. */
  counters: { deliveries: number; otherMessages: number; duplicates: number; reordered: number; goAways: number; unexpectedCloses: number };
}

interface ConversationSeen {
  /** Every seq held, group events and seqs taken as held at a sync included: the ordering and ack state. */
  seqs: Set<number>;
  /** Of those, the bench sends: what the loss check compares with the acked sends. */
  benchMessages: number;
  /** Seqs that came by PullMessages: a push of one of them later is deduped, as a client does, not a duplicate. */
  pulled: Set<number>;
  /** Highest seq such that 1..contiguous were all received: what Ack.delivered reports. */
  contiguous: number;
  /** Highest seq that came by push: a lower one pushed later is out of order. */
  highestPushed: number;
}

export class Receiver {
  private socket: WebSocket | undefined;
  private readonly seen = new Map<string, ConversationSeen>();
  private pendingIds: string[] = [];
  private pendingConversations = new Set<string>();
  private expectedClose = false;
  /** Monotonic ms at which the next ping is due; 0 while not connected. */
  nextPingAtMs = 0;
  heartbeatMs = 25_000;

  constructor(
    readonly spec: ReceiverSpec,
    private readonly sink: ReceiverSink,
    private readonly localAddress: string,
  ) {}

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN && this.nextPingAtMs > 0;
  }

  /** Opens the connection; resolves once the server sent Authenticated. */
  open(): Promise<void> {
    this.expectedClose = false;
    return new Promise((done, fail) => {
      const socket = new WebSocket(this.spec.url, ['im.v1', `im.auth.${this.spec.accessToken}`], {
        localAddress: this.localAddress,
        perMessageDeflate: false,
        handshakeTimeout: AUTH_TIMEOUT_MS,
      });
      this.socket = socket;
      let settled = false;
      const timer = setTimeout(() => finish(new Error('no Authenticated frame within 30 s')), AUTH_TIMEOUT_MS);
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) done();
        else {
          socket.terminate();
          fail(error);
        }
      };
      socket.on('message', (data: Buffer) => {
        const frame = connectV1.ServerFrame.decode(data);
        switch (frame.kind?.$case) {
          case 'authenticated':
            this.heartbeatMs = frame.kind.value.heartbeatIntervalMs || 25_000;
            // Spread the first pings over one interval so thousands of connections do not ping in step.
            this.nextPingAtMs = Date.now() + Math.random() * this.heartbeatMs;
            finish();
            break;
          case 'message':
            this.onMessage(frame.kind.value);
            break;
          case 'goAway':
            this.sink.counters.goAways += 1;
            break;
          case 'error':
            finish(new Error(`server error frame: ${frame.kind.value.message ?? JSON.stringify(frame.kind.value)}`));
            break;
          default:
            break;
        }
      });
      socket.on('error', (error) => finish(error));
      socket.on('close', (code, reason) => {
        this.nextPingAtMs = 0;
        if (!this.expectedClose && settled) this.sink.counters.unexpectedCloses += 1;
        finish(new Error(`closed with ${code} ${reason.toString()}`));
      });
    });
  }

  /** Cuts the TCP connection without a close handshake, as a network drop does. */
  drop(): void {
    this.expectedClose = true;
    this.nextPingAtMs = 0;
    this.socket?.terminate();
  }

  close(): void {
    this.expectedClose = true;
    this.nextPingAtMs = 0;
    this.socket?.close(1000, 'bench done');
  }

  /** Sends a Ping if it is due (called by the worker's shared heartbeat timer). */
  pingIfDue(nowMs: number): void {
    if (this.nextPingAtMs === 0 || nowMs < this.nextPingAtMs || !this.connected) return;
    this.nextPingAtMs = nowMs + this.heartbeatMs;
    this.sendFrame({ kind: { $case: 'ping', value: { clientTimeMs: nowMs } } });
  }

  /** Acks what arrived since the last flush, in one frame (called by the worker's shared ack timer). */
  flushAcks(): void {
    if (this.pendingIds.length === 0 || !this.connected) return;
    // Connect refuses a whole ack holding a delivered seq below 1, message ids included:
    // a conversation whose first seqs this connection has not seen reports none yet.
    const delivered = [...this.pendingConversations]
      .map((conversationId) => ({ conversationId, seq: this.seen.get(conversationId)!.contiguous }))
      .filter((entry) => entry.seq >= 1);
    this.sendFrame({ kind: { $case: 'ack', value: { messageIds: this.pendingIds, delivered } } });
    this.pendingIds = [];
    this.pendingConversations = new Set();
  }

  /** Records a message fetched by PullMessages (sync): counted for loss, not timed. */
  recordPulled(message: messageV1.Message): boolean {
    return this.note(message.conversationId, Number(message.seq), 'pull', isBenchSend(message)) !== 'duplicate';
  }

  /**
   * Takes seqs 1..`lastSeq` of a conversation as held, as SyncConversations at
   * connect time tells a client: they came before the bench sent anything (a
   * group's setup events), so they are neither counted nor expected, and a late
   * push of one is deduped as a pulled message is.
   */
  markSynced(conversationId: string, lastSeq: number): void {
    const seen = this.seenOf(conversationId);
    for (let seq = seen.contiguous + 1; seq <= lastSeq; seq += 1) {
      if (seen.seqs.has(seq)) continue;
      seen.seqs.add(seq);
      seen.pulled.add(seq);
    }
    while (seen.seqs.has(seen.contiguous + 1)) seen.contiguous += 1;
  }

  /** The highest seq received without a gap, per conversation. */
  contiguousOf(conversationId: string): number {
    return this.seen.get(conversationId)?.contiguous ?? 0;
  }

  /** Unique bench messages received, per conversation. */
  receivedCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [conversationId, seen] of this.seen) counts[conversationId] = seen.benchMessages;
    return counts;
  }

  private onMessage(message: messageV1.Message): void {
    const nowNs = monotonicNs();
    const bench = isBenchSend(message);
    const outcome = this.note(message.conversationId, Number(message.seq), 'push', bench);
    this.pendingIds.push(message.messageId);
    this.pendingConversations.add(message.conversationId);
    if (outcome === 'duplicate') {
      if (!this.seen.get(message.conversationId)!.pulled.has(Number(message.seq))) this.sink.counters.duplicates += 1;
      return;
    }
    if (outcome === 'reordered') this.sink.counters.reordered += 1;
    if (!bench) {
      this.sink.counters.otherMessages += 1;
      return;
    }
    this.sink.counters.deliveries += 1;
    const second = Number(nowNs / 1_000_000_000n);
    const sample = this.sink.series.at(second);
    sample.deliveries += 1;
    const sentAt = sentAtOfMessage(message);
    if (this.sink.timing && sentAt !== undefined) {
      const latencyUs = Number(nowNs - sentAt) / 1000;
      sample.latency.record(latencyUs);
      this.sink.latency.record(latencyUs);
    }
  }

  private seenOf(conversationId: string): ConversationSeen {
    let seen = this.seen.get(conversationId);
    if (seen === undefined) {
      seen = { seqs: new Set(), benchMessages: 0, pulled: new Set(), contiguous: 0, highestPushed: 0 };
      this.seen.set(conversationId, seen);
    }
    return seen;
  }

  private note(conversationId: string, seq: number, via: 'push' | 'pull', bench: boolean): 'new' | 'reordered' | 'duplicate' {
    const seen = this.seenOf(conversationId);
    if (seen.seqs.has(seq)) return 'duplicate';
    seen.seqs.add(seq);
    if (bench) seen.benchMessages += 1;
    if (via === 'pull') seen.pulled.add(seq);
    const reordered = via === 'push' && seq < seen.highestPushed;
    if (via === 'push' && seq > seen.highestPushed) seen.highestPushed = seq;
    while (seen.seqs.has(seen.contiguous + 1)) seen.contiguous += 1;
    return reordered ? 'reordered' : 'new';
  }

  private sendFrame(frame: connectV1.ClientFrame): void {
    this.socket!.send(connectV1.ClientFrame.encode(frame).finish());
  }
}

function sentAtOfMessage(message: messageV1.Message): bigint | undefined {
  return message.content?.body?.$case === 'text' ? sentAtOf(message.content.body.value.text) : undefined;
}

/** A message some bench sender sent (its text carries the send time), as opposed to a group event. */
function isBenchSend(message: messageV1.Message): boolean {
  return sentAtOfMessage(message) !== undefined;
}
