// The client's ordering rules, without any network: each message is handed to
// the app once and in seq order, whatever order and how often pushes come, and
// the sequencer asks for exactly the missing ranges.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { messageV1 } from '@im-mesh/contracts';
import fc from 'fast-check';
import { DeliverySequencer, type AppliedMessage } from '../src/delivery-sequencer.js';

function message(seq: number, conversationId = 'c1'): messageV1.Message {
  return messageV1.Message.fromPartial({
    messageId: `${conversationId}-m${seq}`,
    conversationId,
    seq,
    senderId: 'alice',
    senderDeviceId: 'd1',
    clientMsgId: `k${seq}`,
    content: { body: { $case: 'text', value: { text: `text ${seq}`, mentionUserIds: [] } } },
    sentAt: new Date(0),
  });
}

function range(from: number, to: number): messageV1.Message[] {
  return Array.from({ length: to - from + 1 }, (_, i) => message(from + i));
}

const seqs = (applied: AppliedMessage<unknown>[]): number[] => applied.map((a) => a.message.seq);

describe('DeliverySequencer', () => {
  test('a push that follows the last applied seq is applied at once, a second copy is dropped', () => {
    const sequencer = new DeliverySequencer<string>();
    assert.deepEqual(seqs(sequencer.offerPushed(message(1), 'push').applied), [1]);
    const again = sequencer.offerPushed(message(1), 'push');
    assert.equal(again.status, 'duplicate');
    assert.deepEqual(again.applied, []);
    assert.equal(sequencer.lastApplied('c1'), 1);
    assert.equal(sequencer.gap('c1'), undefined);
  });

  test('an early push waits, the exact gap is requested, and the pull releases everything in order', () => {
    const sequencer = new DeliverySequencer<string>();
    sequencer.offerPushed(message(1), 'push');
    assert.equal(sequencer.offerPushed(message(4), 'push').status, 'buffered');
    assert.equal(sequencer.offerPushed(message(4), 'push').status, 'duplicate');
    assert.deepEqual(sequencer.gap('c1'), { conversationId: 'c1', afterSeq: 1, limit: 2 });
    const applied = sequencer.offerPulled([message(3), message(2)], 'pull');
    assert.deepEqual(seqs(applied), [2, 3, 4]);
    assert.deepEqual(applied.map((a) => a.origin), ['pull', 'pull', 'push']);
    assert.equal(sequencer.gap('c1'), undefined);
  });

  test('with several holes only the first is requested, then the next one', () => {
    const sequencer = new DeliverySequencer<string>();
    for (const seq of [1, 3, 6]) sequencer.offerPushed(message(seq), 'push');
    assert.deepEqual(sequencer.gap('c1'), { conversationId: 'c1', afterSeq: 1, limit: 1 });
    assert.deepEqual(seqs(sequencer.offerPulled([message(2)], 'pull')), [2, 3]);
    assert.deepEqual(sequencer.gap('c1'), { conversationId: 'c1', afterSeq: 3, limit: 2 });
    assert.deepEqual(seqs(sequencer.offerPulled(range(4, 5), 'pull')), [4, 5, 6]);
  });

  test('a last_seq from sync with nothing buffered asks for everything after the watermark, 500 at a time', () => {
    const sequencer = new DeliverySequencer<string>([['c1', 40]]);
    sequencer.noteLastSeq('c1', 1200);
    assert.deepEqual(sequencer.gap('c1'), { conversationId: 'c1', afterSeq: 40, limit: 500 });
    sequencer.noteLastSeq('c2', 3);
    assert.deepEqual(sequencer.gaps(), [
      { conversationId: 'c1', afterSeq: 40, limit: 500 },
      { conversationId: 'c2', afterSeq: 0, limit: 3 },
    ]);
  });

  test('saved watermarks make older messages duplicates', () => {
    const sequencer = new DeliverySequencer<string>([['c1', 5]]);
    assert.equal(sequencer.offerPushed(message(5), 'push').status, 'duplicate');
    assert.deepEqual(seqs(sequencer.offerPulled(range(3, 7), 'pull')), [6, 7]);
  });

  test('while holding, pushes wait and no gap is reported; pulls apply and drain; release flushes the rest', () => {
    const sequencer = new DeliverySequencer<string>();
    sequencer.hold();
    assert.equal(sequencer.offerPushed(message(1), 'push').status, 'buffered');
    assert.equal(sequencer.offerPushed(message(5), 'push').status, 'buffered');
    assert.deepEqual(sequencer.gaps(), []);
    // The sync pulled 1..3 (1 is also buffered): 1..3 apply once each.
    assert.deepEqual(seqs(sequencer.offerPulled(range(1, 3), 'pull')), [1, 2, 3]);
    assert.deepEqual(seqs(sequencer.release()), []);
    assert.deepEqual(sequencer.gap('c1'), { conversationId: 'c1', afterSeq: 3, limit: 1 });
    sequencer.hold();
    sequencer.offerPushed(message(4), 'push');
    assert.deepEqual(seqs(sequencer.release()), [4, 5]);
  });

  test('conversations are sequenced independently', () => {
    const sequencer = new DeliverySequencer<string>();
    sequencer.offerPushed(message(2, 'a'), 'push');
    assert.deepEqual(seqs(sequencer.offerPushed(message(1, 'b'), 'push').applied), [1]);
    assert.deepEqual(sequencer.gaps(), [{ conversationId: 'a', afterSeq: 0, limit: 1 }]);
    assert.deepEqual(sequencer.watermarks(), [['b', 1]]);
  });

  test('a full buffer drops further pushes, and the gap still covers them', () => {
    const sequencer = new DeliverySequencer<string>([], { maxBufferedPerConversation: 2 });
    sequencer.offerPushed(message(3), 'push');
    sequencer.offerPushed(message(4), 'push');
    assert.equal(sequencer.offerPushed(message(9), 'push').status, 'dropped');
    assert.deepEqual(sequencer.gap('c1'), { conversationId: 'c1', afterSeq: 0, limit: 2 });
    sequencer.offerPulled(range(1, 2), 'pull');
    assert.deepEqual(sequencer.gap('c1'), { conversationId: 'c1', afterSeq: 4, limit: 5 });
    assert.deepEqual(seqs(sequencer.offerPulled(range(5, 9), 'pull')), [5, 6, 7, 8, 9]);
  });

  test('any mix of lost, repeated and reordered pushes plus gap pulls yields 1..n once, in order', () => {
    const pushPlan = fc
      .integer({ min: 1, max: 60 })
      .chain((n) =>
        fc.tuple(
          fc.constant(n),
          // Each seq is pushed 0 to 3 times; the shuffled list is the arrival order.
          fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
          fc.array(fc.nat(), { minLength: 0, maxLength: 200 }),
          fc.array(fc.boolean(), { minLength: 200, maxLength: 200 }),
        ),
      );
    fc.assert(
      fc.property(pushPlan, ([n, copies, shuffleKeys, pullAfterPush]) => {
        const arrivals: number[] = [];
        copies.forEach((count, i) => {
          for (let c = 0; c < count; c += 1) arrivals.push(i + 1);
        });
        const keyed = arrivals.map((seq, i) => ({ seq, key: shuffleKeys[i] ?? i }));
        keyed.sort((a, b) => a.key - b.key);

        const sequencer = new DeliverySequencer<string>();
        const emitted: number[] = [];
        const requested = new Set<number>();
        const pullGap = (): void => {
          const gap = sequencer.gap('c1');
          if (gap === undefined) return;
          // The request starts right after the watermark and never covers a message the client holds.
          assert.equal(gap.afterSeq, sequencer.lastApplied('c1'));
          for (let seq = gap.afterSeq + 1; seq <= gap.afterSeq + gap.limit; seq += 1) {
            assert.equal(requested.has(seq), false, `seq ${seq} requested twice`);
            requested.add(seq);
          }
          emitted.push(...seqs(sequencer.offerPulled(range(gap.afterSeq + 1, gap.afterSeq + gap.limit), 'pull')));
        };
        keyed.forEach(({ seq }, i) => {
          emitted.push(...seqs(sequencer.offerPushed(message(seq), 'push').applied));
          if (pullAfterPush[i % pullAfterPush.length] === true) pullGap();
        });
        // Sync tells the client how far the conversation goes; then every gap is closed.
        sequencer.noteLastSeq('c1', n);
        for (let guard = 0; guard < n + 1 && sequencer.gap('c1') !== undefined; guard += 1) pullGap();
        assert.deepEqual(emitted, range(1, n).map((m) => m.seq));
      }),
      { numRuns: 300 },
    );
  });
});
