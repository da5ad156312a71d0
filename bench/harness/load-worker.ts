// A load-client process (forked by worker-pool.ts). It holds receivers (long
// WebSocket connections, receiver.ts) and runs senders (SendMessage over native
// gRPC through the edge), on command from the bench
// over IPC, and ticks its counters every second. Unary calls go through a lean
// gRPC client (unary-caller.ts): grpc-js cost more CPU than the calls it measured. Its sockets leave from one
// loopback source address (127.0.0.2-127.0.0.9), so the bench can open more
// connections than one address has ports.
import { messageV1 } from '@im-mesh/contracts';
import { randomUUID } from 'node:crypto';
import { mapLimited } from './accounts.js';
import { LatencyHistogram, PerSecondSeries } from './latency-histogram.js';
import {
  benchText,
  monotonicNs,
  type CollectResult,
  type ReconnectResult,
  type SendPlan,
  type SendResult,
  type SenderSpec,
  type WorkerCommand,
  type WorkerReply,
} from './load-protocol.js';
import { Receiver, type ReceiverSink } from './receiver.js';
import { UnaryCaller } from './unary-caller.js';

const ACK_FLUSH_MS = 50;
const RECONNECT_GIVE_UP_MS = 120_000;
/** Open-loop calls one worker lets wait for an answer before it sheds the schedule. */
const MAX_OPEN_LOOP_IN_FLIGHT = 2_000;

let edgeUrl = '';
let localAddress = '127.0.0.1';
let caller: UnaryCaller | undefined;
const CALL_TIMEOUT_MS = 30_000;
const SEND_MESSAGE = '/im.message.v1.MessageService/SendMessage';
const SYNC_CONVERSATIONS = '/im.message.v1.MessageService/SyncConversations';
const PULL_MESSAGES = '/im.message.v1.MessageService/PullMessages';
const receivers: Receiver[] = [];
const sink: ReceiverSink = {
  series: new PerSecondSeries(),
  latency: new LatencyHistogram(),
  timing: true,
  counters: { deliveries: 0, otherMessages: 0, duplicates: 0, reordered: 0, goAways: 0, unexpectedCloses: 0 },
};
const sendTotals = { ok: 0, failed: 0 };

function reply(message: WorkerReply): void {
  process.send!(message);
}

// Shared timers for all connections of this process (one per connection would cost more than the connection).
const ackTimer = setInterval(() => {
  for (const receiver of receivers) receiver.flushAcks();
}, ACK_FLUSH_MS);
const pingTimer = setInterval(() => {
  const now = Date.now();
  for (const receiver of receivers) receiver.pingIfDue(now);
}, 1_000);
const tickTimer = setInterval(() => {
  reply({
    type: 'tick',
    deliveries: sink.counters.deliveries,
    sendsOk: sendTotals.ok,
    sendsFailed: sendTotals.failed,
    open: receivers.filter((receiver) => receiver.connected).length,
  });
}, 1_000);

async function send(senders: SenderSpec[], plan: SendPlan): Promise<SendResult> {
  const result: SendResult = { ok: 0, failed: 0, shed: 0, errors: [], ackedPerConversation: {}, recipientOf: {}, ackedFromReceiver: {} };
  const client = caller!;
  const sendOne = async (sender: SenderSpec): Promise<void> => {
    const target: messageV1.SendMessageRequest['target'] =
      'groupId' in sender ? { $case: 'conversationId', value: sender.groupId } : { $case: 'toUserId', value: sender.toUserId };
    const sentAtNs = monotonicNs();
    try {
      const response = await client.call(
        SEND_MESSAGE,
        messageV1.SendMessageRequest,
        messageV1.SendMessageResponse,
        { target, clientMsgId: randomUUID(), content: { body: { $case: 'text', value: { text: benchText(sentAtNs), mentionUserIds: [] } } } },
        sender.accessToken,
      );
      result.ok += 1;
      sendTotals.ok += 1;
      const conversationId = response.conversationId;
      result.ackedPerConversation[conversationId] = (result.ackedPerConversation[conversationId] ?? 0) + 1;
      if ('groupId' in sender) {
        const own = (result.ackedFromReceiver[sender.receiverId] ??= {});
        own[conversationId] = (own[conversationId] ?? 0) + 1;
      } else {
        result.recipientOf[conversationId] = sender.toUserId;
      }
      sink.series.at(Number(monotonicNs() / 1_000_000_000n)).sendsAcked += 1;
    } catch (error) {
      result.failed += 1;
      sendTotals.failed += 1;
      if (result.errors.length < 5) result.errors.push((error as Error).message);
    }
  };
  if (plan.kind === 'count') {
    await Promise.all(
      senders.map(async (sender) => {
        let left = plan.count;
        const lane = async () => {
          while (left > 0) {
            left -= 1;
            await sendOne(sender);
          }
        };
        await Promise.all(Array.from({ length: Math.min(plan.inFlight, plan.count) }, lane));
      }),
    );
    return result;
  }
  const endsAt = Date.now() + plan.durationMs;
  if (plan.kind === 'closed') {
    await Promise.all(
      senders.flatMap((sender) =>
        Array.from({ length: plan.inFlight }, async () => {
          while (Date.now() < endsAt) await sendOne(sender);
        }),
      ),
    );
    return result;
  }
  // Open loop: the schedule does not wait for replies, so a slow system shows as latency, not as a lower offered load.
  // A system that falls behind by more than MAX_OPEN_LOOP_IN_FLIGHT calls gets the rest of the schedule shed
  // (counted), instead of a pile of calls that only measure this process's memory.
  const started = Date.now();
  let issued = 0;
  let next = 0;
  const inFlight = new Set<Promise<void>>();
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const now = Date.now();
      const due = Math.floor(((Math.min(now, endsAt) - started) * plan.ratePerSecond) / 1000) - issued;
      for (let i = 0; i < due; i += 1) {
        if (inFlight.size >= MAX_OPEN_LOOP_IN_FLIGHT) {
          result.shed += 1;
          continue;
        }
        const call = sendOne(senders[next % senders.length]!);
        next += 1;
        inFlight.add(call);
        void call.finally(() => inFlight.delete(call));
      }
      issued += Math.max(0, due);
      if (now >= endsAt) {
        clearInterval(timer);
        done();
      }
    }, 2);
  });
  await Promise.all(inFlight);
  return result;
}

/** The last seq of every conversation of the receiver's user (SyncConversations, every page). */
async function lastSeqsOf(receiver: Receiver): Promise<Map<string, number>> {
  const lastSeqs = new Map<string, number>();
  let pageToken = '';
  do {
    const page = await caller!.call(
      SYNC_CONVERSATIONS,
      messageV1.SyncConversationsRequest,
      messageV1.SyncConversationsResponse,
      { pageSize: 500, pageToken },
      receiver.spec.accessToken,
    );
    for (const conversation of page.conversations) lastSeqs.set(conversation.conversationId, Number(conversation.lastSeq));
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return lastSeqs;
}

/** Reconnects one receiver and pulls what it missed until it holds every message of every conversation. */
async function resync(receiver: Receiver, giveUpAt: number, stats: ReconnectResult): Promise<bigint | undefined> {
  const client = caller!;
  let delayMs = 200;
  while (Date.now() < giveUpAt) {
    try {
      if (!receiver.connected) await receiver.open();
      // Subscribed first (above), then sync: a push that lands meanwhile is deduped by seq.
      const lastSeqs = await lastSeqsOf(receiver);
      for (const [conversationId, lastSeq] of lastSeqs) {
        let after = receiver.contiguousOf(conversationId);
        while (after < lastSeq) {
          const page = await client.call(
            PULL_MESSAGES,
            messageV1.PullMessagesRequest,
            messageV1.PullMessagesResponse,
            messageV1.PullMessagesRequest.fromPartial({ conversationId, afterSeq: after, limit: 200 }),
            receiver.spec.accessToken,
          );
          for (const message of page.messages) if (receiver.recordPulled(message)) stats.pulled += 1;
          const advanced = receiver.contiguousOf(conversationId);
          if (advanced === after || !page.hasMore) break;
          after = advanced;
        }
      }
      const complete = [...lastSeqs].every(([conversationId, lastSeq]) => receiver.contiguousOf(conversationId) >= lastSeq);
      if (complete) return monotonicNs();
    } catch (error) {
      if (stats.errors.length < 5) stats.errors.push((error as Error).message);
    }
    stats.retries += 1;
    // Jittered backoff, as a client does, so a refused storm does not come back in step.
    await new Promise((done) => setTimeout(done, delayMs * (0.5 + Math.random())));
    delayMs = Math.min(delayMs * 2, 2_000);
  }
  return undefined;
}

async function reconnectAll(): Promise<ReconnectResult> {
  const stats: ReconnectResult = { synced: 0, notSynced: 0, lastCompleteNs: '0', completeNs: [], retries: 0, pushedAfterReconnect: 0, pulled: 0, errors: [] };
  // The backlog arriving now is counted for loss but not timed: its "latency" would be the outage.
  sink.timing = false;
  const pushedBefore = sink.counters.deliveries;
  const giveUpAt = Date.now() + RECONNECT_GIVE_UP_MS;
  let last = 0n;
  await Promise.all(
    receivers.map(async (receiver) => {
      const doneAt = await resync(receiver, giveUpAt, stats);
      if (doneAt === undefined) stats.notSynced += 1;
      else {
        stats.synced += 1;
        stats.completeNs.push(String(doneAt));
        if (doneAt > last) last = doneAt;
      }
    }),
  );
  stats.lastCompleteNs = String(last);
  stats.pushedAfterReconnect = sink.counters.deliveries - pushedBefore;
  sink.timing = true;
  return stats;
}

function collect(): CollectResult {
  const received: Record<number, Record<string, number>> = {};
  for (const receiver of receivers) received[receiver.spec.id] = receiver.receivedCounts();
  return {
    received,
    otherMessages: sink.counters.otherMessages,
    duplicates: sink.counters.duplicates,
    reordered: sink.counters.reordered,
    goAways: sink.counters.goAways,
    unexpectedCloses: sink.counters.unexpectedCloses,
    series: sink.series.toJSON(),
    latency: sink.latency.toJSON(),
  };
}

async function handle(command: WorkerCommand): Promise<void> {
  switch (command.type) {
    case 'init':
      edgeUrl = command.edgeUrl;
      localAddress = command.localAddress;
      caller = new UnaryCaller(edgeUrl, { timeoutMs: CALL_TIMEOUT_MS, localAddress });
      reply({ type: 'ready' });
      return;
    case 'open': {
      const fresh = command.receivers.map((spec) => new Receiver(spec, sink, localAddress));
      receivers.push(...fresh);
      const errors: string[] = [];
      let failed = 0;
      await mapLimited(fresh, command.concurrency, async (receiver) => {
        try {
          await receiver.open();
          // Subscribed first (above), then sync: a push that lands meanwhile is deduped by seq.
          if (command.syncAfterOpen === true) for (const [conversationId, lastSeq] of await lastSeqsOf(receiver)) receiver.markSynced(conversationId, lastSeq);
        } catch (error) {
          failed += 1;
          if (errors.length < 5) errors.push((error as Error).message);
        }
      });
      reply({ type: 'opened', result: { opened: fresh.length - failed, failed, errors } });
      return;
    }
    case 'send':
      reply({ type: 'sent', result: await send(command.senders, command.plan) });
      return;
    case 'drop':
      for (const receiver of receivers) receiver.drop();
      reply({ type: 'dropped' });
      return;
    case 'reconnect':
      reply({ type: 'reconnected', result: await reconnectAll() });
      return;
    case 'collect':
      reply({ type: 'collected', result: collect() });
      return;
    case 'close':
      clearInterval(ackTimer);
      clearInterval(pingTimer);
      clearInterval(tickTimer);
      for (const receiver of receivers) receiver.flushAcks();
      for (const receiver of receivers) receiver.close();
      caller?.close();
      // Give the close frames a moment to leave before the process exits.
      setTimeout(() => process.exit(0), 300);
      return;
  }
}

process.on('message', (command: WorkerCommand) => {
  handle(command).catch((error: unknown) => reply({ type: 'failed', message: (error as Error).stack ?? String(error) }));
});
process.on('disconnect', () => process.exit(0));
