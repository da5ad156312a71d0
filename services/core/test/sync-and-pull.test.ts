// Offline catch-up: PullMessages pages a conversation in seq order, and
// SyncConversations lists the caller's conversations with last_seq and the
// read/delivered watermarks a reconnecting client needs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ClientError, Status } from 'nice-grpc';
import { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, eventually, text, toUser } from './support/core-harness.js';

describe('PullMessages and SyncConversations', () => {
  let h: CoreHarness;
  before(async () => {
    h = await CoreHarness.start();
  });
  after(async () => {
    await h.close();
  });

  test('B gets 25 messages sent while offline by pulling pages in order, with has_more until the end', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const sent: messageV1.SendMessageResponse[] = [];
    for (let i = 1; i <= 25; i += 1) {
      sent.push(await alice.sendMessage({ target: toUser(h.bob), clientMsgId: `offline-${i}`, content: text(`offline ${i}`) }));
    }
    const conversationId = sent[0]!.conversationId;
    // Bob had no route: the relay had nobody to push to and dropped the rows, not the messages.
    await eventually('outbox drained', async () => (await h.count('outbox')) === 0);
    assert.equal(h.messagesFor(h.bob, 'bob-phone').length, 0);

    const bob = h.messagesAs(h.bob, 'bob-phone');
    const pages = [];
    let afterSeq = 0;
    for (;;) {
      const page = await bob.pullMessages({ conversationId, afterSeq, limit: 10 });
      pages.push(page);
      if (!page.hasMore) break;
      afterSeq = page.messages[page.messages.length - 1]!.seq;
    }
    assert.deepEqual(
      pages.map((p) => [p.messages.length, p.hasMore]),
      [
        [10, true],
        [10, true],
        [5, false],
      ],
    );
    const pulled = pages.flatMap((p) => p.messages);
    assert.deepEqual(
      pulled.map((m) => m.messageId),
      sent.map((s) => s.messageId),
    );
    assert.deepEqual(pulled[24]!.content, text('offline 25'));
    assert.equal(pulled[24]!.clientMsgId, 'offline-25');
    assert.equal(pulled[24]!.sentAt?.getTime(), sent[24]!.sentAt?.getTime());

    const all = await bob.pullMessages({ conversationId, afterSeq: 0, limit: 0 });
    assert.equal(all.messages.length, 25, 'limit 0 means the default of 100');
    assert.equal(all.hasMore, false);
    const none = await bob.pullMessages({ conversationId, afterSeq: 25 });
    assert.deepEqual([none.messages.length, none.hasMore], [0, false]);
  });

  test('pulling a conversation one is not in is NOT_FOUND, like a conversation that does not exist', async () => {
    const carol = h.messagesAs(h.carol, 'carol-phone');
    const [a, b] = [h.alice, h.bob].sort();
    for (const conversationId of [`dm:${a}:${b}`, 'dm:missing']) {
      await assert.rejects(carol.pullMessages({ conversationId, afterSeq: 0 }), (error: unknown) => {
        assert.ok(error instanceof ClientError);
        assert.equal(error.code, Status.NOT_FOUND);
        assert.equal(error.details, 'Conversation not found, or you are not a member of it.');
        return true;
      });
    }
  });

  test('sync shows last_seq, the caller read and delivered watermarks, and the peer ones', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const first = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('one') });
    await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('two') });
    const third = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('three') });
    const conversationId = first.conversationId;

    const carol = h.messagesAs(h.carol, 'carol-phone');
    await h.delivery().reportDelivered({ deliveries: [{ userId: h.carol, deviceId: 'carol-phone', conversationId, seq: 2 }] });
    assert.equal((await carol.markRead({ conversationId, seq: 1 })).readSeq, 1);

    const asCarol = await carol.syncConversations({});
    assert.equal(asCarol.nextPageToken, '');
    const state = asCarol.conversations.find((c) => c.conversationId === conversationId)!;
    assert.equal(state.type, messageV1.ConversationType.CONVERSATION_TYPE_DIRECT);
    assert.equal(state.peerUserId, h.alice);
    assert.deepEqual([state.lastSeq, state.readSeq, state.deliveredSeq], [3, 1, 2]);
    assert.equal(state.lastMessage?.messageId, third.messageId);
    assert.deepEqual(state.lastMessage?.content, text('three'));

    // Another device of carol has delivered nothing yet.
    const carolTablet = await h.messagesAs(h.carol, 'carol-tablet').syncConversations({});
    assert.equal(carolTablet.conversations.find((c) => c.conversationId === conversationId)!.deliveredSeq, 0);

    const asAlice = await alice.syncConversations({});
    const seenByAlice = asAlice.conversations.find((c) => c.conversationId === conversationId)!;
    assert.equal(seenByAlice.peerUserId, h.carol);
    assert.deepEqual([seenByAlice.peerDeliveredSeq, seenByAlice.peerReadSeq, seenByAlice.readSeq], [2, 1, 0]);
  });

  test('sync pages through conversations by id with an opaque token', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const expected = (await alice.syncConversations({})).conversations.map((c) => c.conversationId);
    assert.ok(expected.length >= 2, 'alice has conversations with bob and carol');
    assert.deepEqual([...expected].sort(), expected, 'ordered by conversation id');

    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await alice.syncConversations({ pageSize: 1, pageToken });
      assert.ok(page.conversations.length <= 1);
      seen.push(...page.conversations.map((c) => c.conversationId));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    assert.deepEqual(seen, expected);

    await assert.rejects(alice.syncConversations({ pageToken: 'garbage' }), (error: unknown) => {
      return error instanceof ClientError && error.code === Status.INVALID_ARGUMENT;
    });
  });
});
