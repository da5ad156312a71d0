// A member who joined a group whose history is hidden sees the stream start at
// their join, not at seq 1: the SDK takes the floor from SyncConversations
// (first_visible_after_seq), or from a pull that starts past the watermark, and
// hands the app every visible message once, in order, without stalling.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { messageV1 } from '@im-mesh/contracts';
import { AckBatcher } from '../src/ack-batcher.js';
import { DeliverySequencer } from '../src/delivery-sequencer.js';
import { MessageStream, type SyncApi } from '../src/message-stream.js';
import { MemorySyncStateStore } from '../src/sync-state-store.js';

const GROUP = 'g:0190c0de-0000-7000-8000-000000000001';

function message(seq: number): messageV1.Message {
  return messageV1.Message.fromPartial({
    messageId: `m${seq}`,
    conversationId: GROUP,
    seq,
    senderId: 'alice',
    senderDeviceId: 'd1',
    clientMsgId: `k${seq}`,
    content: { body: { $case: 'text', value: { text: `text ${seq}`, mentionUserIds: [] } } },
    sentAt: new Date(0),
  });
}

/** A server holding seqs 1..last of which this user may see only those after `floor`. */
function serverWithFloor(floor: number, last: number, reportFloor: boolean): SyncApi & { pulls: number } {
  const api = {
    pulls: 0,
    async syncConversations(): Promise<messageV1.SyncConversationsResponse> {
      return messageV1.SyncConversationsResponse.fromPartial({
        conversations: [{ conversationId: GROUP, type: messageV1.ConversationType.CONVERSATION_TYPE_GROUP, lastSeq: last, firstVisibleAfterSeq: reportFloor ? floor : 0 }],
      });
    },
    async pullMessages(_conversationId: string, afterSeq: number, limit: number): Promise<messageV1.PullMessagesResponse> {
      api.pulls += 1;
      const from = Math.max(afterSeq, floor) + 1;
      const seqs = Array.from({ length: Math.max(0, Math.min(limit, last - from + 1)) }, (_, i) => from + i);
      return { messages: seqs.map(message), hasMore: seqs.length > 0 && seqs[seqs.length - 1]! < last };
    },
  };
  return api;
}

function streamOn(api: SyncApi, gapWaitMs = 5) {
  const seen: number[] = [];
  const errors: unknown[] = [];
  const store = new MemorySyncStateStore();
  const acks = new AckBatcher(1_000, () => undefined, (error) => errors.push(error));
  const stream = new MessageStream({ api, store, acks, gapWaitMs, onMessage: (m) => seen.push(m.seq), onError: (e) => errors.push(e) });
  return { stream, seen, errors, store };
}

describe('sync floor for groups with hidden history', () => {
  test('sync names the floor: the member gets seqs 41..45 once, in order, and the watermark is saved at 45', async () => {
    const api = serverWithFloor(40, 45, true);
    const { stream, seen, errors, store } = streamOn(api);
    await stream.load();
    await stream.resync(() => true);
    assert.deepEqual(seen, [41, 42, 43, 44, 45]);
    assert.equal(store.get(GROUP), 45);
    assert.deepEqual(errors, []);
  });

  test('a live invite pushed before any sync: the pull that starts past the watermark sets the floor instead of stalling', async () => {
    const api = serverWithFloor(40, 41, false);
    const { stream, seen } = streamOn(api);
    await stream.load();
    // The invite event (seq 41) arrives by push; seqs 1..40 will never come.
    stream.pushed(message(41), 1);
    await waitFor(() => seen.length === 1);
    assert.deepEqual(seen, [41]);
    stream.pushed(message(42), 1);
    assert.deepEqual(seen, [41, 42]);
    stream.stopGapPulls();
  });

  test('the floor never moves the line backwards, and drops buffered copies at or below it', () => {
    const sequencer = new DeliverySequencer<string>([[GROUP, 50]]);
    assert.deepEqual(sequencer.noteFloor(GROUP, 40), []);
    assert.equal(sequencer.lastApplied(GROUP), 50);
    const fresh = new DeliverySequencer<string>();
    fresh.offerPushed(message(12), 'push');
    fresh.offerPushed(message(11), 'push');
    assert.deepEqual(fresh.noteFloor(GROUP, 10).map((a) => a.message.seq), [11, 12]);
    assert.equal(fresh.lastApplied(GROUP), 12);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
