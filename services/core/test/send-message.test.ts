// SendMessage end to end over real gRPC and PostgreSQL: seq order, pushes to
// the recipient's device, idempotent retries and the direct conversation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, eventually, inConversation, text, toUser } from './support/core-harness.js';

describe('SendMessage', () => {
  let h: CoreHarness;
  before(async () => {
    h = await CoreHarness.start();
  });
  after(async () => {
    await h.close();
  });

  test('A sends B 200 messages: seq 1..200 in order, and B gets 200 pushes in that order, once each', async () => {
    await h.online(h.bob, 'bob-phone');
    await h.online(h.alice, 'alice-laptop');
    await h.online(h.alice, 'alice-phone');
    const alice = h.messagesAs(h.alice, 'alice-laptop');
    const replies: messageV1.SendMessageResponse[] = [];
    const started = performance.now();
    for (let i = 1; i <= 200; i += 1) {
      replies.push(await alice.sendMessage({ target: toUser(h.bob), clientMsgId: `order-${i}`, content: text(`message ${i}`) }));
    }
    const sendMs = performance.now() - started;
    assert.deepEqual(
      replies.map((r) => r.seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.ok(replies.every((r) => !r.duplicate && r.conversationId === replies[0]!.conversationId));

    await eventually('200 pushes to bob-phone', () => h.messagesFor(h.bob, 'bob-phone').length >= 200);
    const pushed = h.messagesFor(h.bob, 'bob-phone');
    assert.equal(pushed.length, 200, 'no duplicates');
    assert.deepEqual(
      pushed.map((m) => m.seq),
      replies.map((r) => r.seq),
    );
    assert.deepEqual(
      pushed.map((m) => m.messageId),
      replies.map((r) => r.messageId),
    );
    const last = pushed[199]!;
    assert.equal(last.senderId, h.alice);
    assert.equal(last.senderDeviceId, 'alice-laptop');
    assert.deepEqual(last.content, text('message 200'));
    // The sending device has the reply; the sender's other device gets a copy.
    assert.equal(h.messagesFor(h.alice, 'alice-laptop').length, 0);
    await eventually('200 pushes to alice-phone', () => h.messagesFor(h.alice, 'alice-phone').length === 200);
    await eventually('outbox drained', async () => (await h.count('outbox')) === 0);
    console.log(`200 sequential sends took ${sendMs.toFixed(0)} ms (${(sendMs / 200).toFixed(2)} ms each)`);
  });

  test('a retried send returns the original message id and seq, marked duplicate, and stores one message', async () => {
    const alice = h.messagesAs(h.alice, 'alice-laptop');
    const clientMsgId = randomUUID();
    const first = await alice.sendMessage({ target: toUser(h.carol), clientMsgId, content: text('hello carol') });
    const retry = await alice.sendMessage({ target: toUser(h.carol), clientMsgId, content: text('hello carol') });
    assert.equal(first.duplicate, false);
    assert.equal(retry.duplicate, true);
    assert.equal(retry.messageId, first.messageId);
    assert.equal(retry.seq, first.seq);
    assert.equal(retry.conversationId, first.conversationId);
    assert.equal(retry.sentAt?.getTime(), first.sentAt?.getTime());
    assert.equal(await h.count('messages', 'client_msg_id = $1', [clientMsgId]), 1);
    const [conversation] = await h.query<{ last_seq: number }>('SELECT last_seq FROM core.conversations WHERE id = $1', [
      first.conversationId,
    ]);
    assert.equal(conversation!.last_seq, first.seq, 'the retry did not take a seq');
  });

  test('five concurrent sends with one client_msg_id store one message and give five identical answers', async () => {
    const alice = h.messagesAs(h.alice, 'alice-laptop');
    const clientMsgId = randomUUID();
    const [a, b] = [h.alice, h.bob].sort();
    const conversationId = `dm:${a}:${b}`;
    // Hold the conversation row: the first send waits on the seq update inside
    // PostgreSQL and the other four queue behind it in core (one transaction per
    // conversation at a time); they must all come back as that one message.
    // (Twins racing from two core instances: message-store-batching.test.ts.)
    const blocker = new pg.Client({ connectionString: h.db.url });
    await blocker.connect();
    let answers: messageV1.SendMessageResponse[];
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM core.conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      const sends = Array.from({ length: 5 }, () => alice.sendMessage({ target: toUser(h.bob), clientMsgId, content: text('only once') }));
      await eventually('a send waits for the conversation row', async () => {
        const [waiting] = await h.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        return waiting!.n === 1;
      });
      // Let the other four reach core before the row is released.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await blocker.query('COMMIT');
      answers = await Promise.all(sends);
    } finally {
      await blocker.end();
    }
    assert.equal(await h.count('messages', 'client_msg_id = $1', [clientMsgId]), 1);
    const stored = await h.query<{ id: string; seq: number }>('SELECT id, seq FROM core.messages WHERE client_msg_id = $1', [clientMsgId]);
    for (const answer of answers) {
      assert.deepEqual(
        [answer.messageId, answer.conversationId, answer.seq, answer.sentAt?.getTime()],
        [stored[0]!.id, conversationId, stored[0]!.seq, answers[0]!.sentAt?.getTime()],
      );
    }
    assert.equal(answers.filter((a) => !a.duplicate).length, 1, 'exactly one answer is the original');
    const [conversation] = await h.query<{ last_seq: number }>('SELECT last_seq FROM core.conversations WHERE id = $1', [conversationId]);
    assert.equal(conversation!.last_seq, stored[0]!.seq, 'no seq was burnt by the losers');
  });

  test('the first message creates dm:<a>:<b> with both members, asking the user directory only that once', async () => {
    const dave = randomUUID();
    const erin = randomUUID();
    h.auth.addUser(dave);
    h.auth.addUser(erin);
    const lookupsBefore = h.auth.lookups();
    const daveClient = h.messagesAs(dave, 'dave-phone');
    const first = await daveClient.sendMessage({ target: toUser(erin), clientMsgId: randomUUID(), content: text('hi') });
    const [a, b] = [dave, erin].sort();
    assert.equal(first.conversationId, `dm:${a}:${b}`);
    assert.equal(first.seq, 1);
    assert.equal(await h.count('conversation_members', 'conversation_id = $1', [first.conversationId]), 2);
    assert.equal(h.auth.lookups(), lookupsBefore + 1);

    // Both sides reach the same conversation, by user id or by conversation id, without asking again.
    const erinClient = h.messagesAs(erin, 'erin-phone');
    const reply = await erinClient.sendMessage({ target: toUser(dave), clientMsgId: randomUUID(), content: text('hello') });
    const third = await daveClient.sendMessage({ target: inConversation(first.conversationId), clientMsgId: randomUUID(), content: text('again') });
    assert.equal(reply.conversationId, first.conversationId);
    assert.deepEqual([reply.seq, third.seq], [2, 3]);
    assert.equal(h.auth.lookups(), lookupsBefore + 1);
  });
});
