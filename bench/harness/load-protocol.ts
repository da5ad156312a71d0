// The messages between the bench (parent) and its load workers (child processes,
// load-worker.ts), over the Node IPC channel, and the clock both sides share.
import type { LatencyHistogram, PerSecondSeries, SparseBuckets } from './latency-histogram.js';

/**
 * The one clock every latency is measured on: CLOCK_MONOTONIC in nanoseconds
 * (process.hrtime.bigint() on Linux). It is system-wide, so a timestamp taken
 * in a sender process and one taken in a receiver process on the same machine
 * are directly comparable, and unlike Date.now() or performance.timeOrigin
 * (which is fixed from the wall clock at each process's start) it never jumps
 * or slews with NTP. The sender writes it into the message text.
 */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

/** Text of a bench message: the sender's clock at the SendMessage call. */
export function benchText(sentAtNs: bigint): string {
  return `bench:${sentAtNs}`;
}

export function sentAtOf(text: string): bigint | undefined {
  return text.startsWith('bench:') ? BigInt(text.slice(6)) : undefined;
}

/** One long connection a worker holds: a logged-in device. */
export interface ReceiverSpec {
  /** Index in the scenario's list of receivers. */
  id: number;
  userId: string;
  accessToken: string;
  /** ws:// endpoint to dial. */
  url: string;
}

/** One sending device and where it sends: a direct message to a user, or into a group. */
export type SenderSpec = DirectSender | GroupSender;

export interface DirectSender {
  accessToken: string;
  toUserId: string;
}

export interface GroupSender {
  accessToken: string;
  /** The group's id, which is also its conversation's id. */
  groupId: string;
  /**
   * The receiver that is this same device (a member both sends and receives):
   * the server pushes a message to every member device but the one that sent it,
   * so the loss check must not expect this device to get its own sends.
   */
  receiverId: number;
}

export type SendPlan =
  /** Closed loop: each sender keeps `inFlight` sends outstanding until the time is up. */
  | { kind: 'closed'; inFlight: number; durationMs: number }
  /** Open loop: `ratePerSecond` sends spread evenly over the senders, for `durationMs`. */
  | { kind: 'open'; ratePerSecond: number; durationMs: number }
  /** Each sender sends `count` messages, `inFlight` at a time. */
  | { kind: 'count'; count: number; inFlight: number };

export type WorkerCommand =
  | { type: 'init'; edgeUrl: string; localAddress: string }
  /**
   * Opens the receivers. With `syncAfterOpen` each then asks SyncConversations
   * for its conversations' last seqs and takes everything up to them as held, as
   * a client does on connecting: a conversation whose history (a group's events)
   * came before the connection then acks from there instead of waiting for seqs
   * that will never be pushed.
   */
  | { type: 'open'; receivers: ReceiverSpec[]; concurrency: number; syncAfterOpen?: boolean }
  | { type: 'send'; senders: SenderSpec[]; plan: SendPlan }
  /** Cuts every connection at once (no close handshake), as a network drop does. */
  | { type: 'drop' }
  /** Reconnects every receiver and syncs what it missed (SyncConversations, PullMessages). */
  | { type: 'reconnect' }
  | { type: 'collect' }
  | { type: 'close' };

export interface OpenResult {
  opened: number;
  failed: number;
  /** A few error messages, for the report. */
  errors: string[];
}

export interface SendResult {
  ok: number;
  failed: number;
  /** Open-loop sends never made because too many calls were already waiting (the system fell behind). */
  shed: number;
  errors: string[];
  /** Acked sends per conversation id (the recipients must show exactly these). */
  ackedPerConversation: Record<string, number>;
  /** Which user each direct conversation sends to (group conversations: every member). */
  recipientOf: Record<string, string>;
  /** Acked group sends per sending receiver id (GroupSender.receiverId) and conversation id: never pushed back to that device. */
  ackedFromReceiver: Record<number, Record<string, number>>;
}

export interface ReconnectResult {
  /** Receivers that got every message of every conversation. */
  synced: number;
  notSynced: number;
  /** Monotonic ns at which the last receiver was complete (when all were). */
  lastCompleteNs: string;
  /** Monotonic ns at which each complete receiver was, in no order: the spread behind the last one. */
  completeNs: string[];
  /** Attempts that failed and were retried after a backoff, over all receivers. */
  retries: number;
  /** Messages that arrived by push and by PullMessages after the reconnect. */
  pushedAfterReconnect: number;
  pulled: number;
  errors: string[];
}

export interface CollectResult {
  /** Unique bench messages received per receiver id and conversation. */
  received: Record<number, Record<string, number>>;
  /**
   * Pushed messages that are not bench sends, so not in `received` nor timed:
   * group events (a regenerated group picture, a setup change the receiver's
   * sync had not covered yet).
   */
  otherMessages: number;
  /** Frames whose (conversation, seq) this connection had already received. */
  duplicates: number;
  /** Frames that arrived with a seq lower than one already received (out of order). */
  reordered: number;
  goAways: number;
  unexpectedCloses: number;
  series: ReturnType<PerSecondSeries['toJSON']>;
  latency: ReturnType<LatencyHistogram['toJSON']>;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'opened'; result: OpenResult }
  | { type: 'sent'; result: SendResult }
  | { type: 'dropped' }
  | { type: 'reconnected'; result: ReconnectResult }
  | { type: 'collected'; result: CollectResult }
  /** Every second while the worker runs: totals so far, for the progress line. */
  | { type: 'tick'; deliveries: number; sendsOk: number; sendsFailed: number; open: number }
  | { type: 'failed'; message: string };

export type { SparseBuckets };
