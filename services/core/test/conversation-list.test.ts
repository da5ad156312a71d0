// The conversation list and history paging over gRPC: unread counts from the
// read watermark (others' messages of the kinds people write, minus recalled
// and deleted-for-me), per-user mute and pin, pinned first then by activity,
// paged; PullMessages backwards from the newest and forwards again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Status } from 'nice-grpc';
import type { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, inConversation, text, toUser, type MessageClient } from './support/core-harness.js';
import { expectStatus, groupConversation } from './support/message-fixtures.js';

describe('conversation list and paging', () => {
  let h: CoreHarness;
  let alice: MessageClient;
  let bob: MessageClient;
  let carol: MessageClient;

  before(async () => {
    h = await CoreHarness.start();
    alice = h.messagesAs(h.alice, 'alice-phone');
    bob = h.messagesAs(h.bob, 'bob-phone');
    carol = h.messagesAs(h.carol, 'carol-phone');
  });
  after(async () => {
    await h.close();
  });

  async function say(client: MessageClient, conversationId: string, words: string): Promise<messageV1.SendMessageResponse> {
    return client.sendMessage({ target: inConversation(conversationId), clientMsgId: randomUUID(), content: text(words) });
  }

  async function listed(client: MessageClient): Promise<messageV1.ConversationState[]> {
    return (await client.listConversations({ pageSize: 200 })).conversations;
  }

  test("unread counts others' messages past the read watermark, not one's own, not events, not recalled or deleted ones", async () => {
    const conversationId = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('1') })).conversationId;
    await say(alice, conversationId, '2');
    const third = await say(alice, conversationId, '3');
    await say(bob, conversationId, 'my own message does not count for me');
    const unreadFor = async (client: MessageClient) => (await listed(client)).find((c) => c.conversationId === conversationId)!.unreadCount;
    assert.equal(await unreadFor(bob), 3);
    assert.equal(await unreadFor(alice), 1);

    // A reaction is an event, not a message to read.
    await alice.reactToMessage({ messageId: third.messageId, emoji: '👀', remove: false });
    assert.equal(await unreadFor(bob), 3);
    // A recalled message no longer waits to be read; neither does one Bob deleted for himself.
    await alice.recallMessage({ messageId: third.messageId });
    assert.equal(await unreadFor(bob), 2);
    const fourth = await say(alice, conversationId, '4');
    await bob.deleteMessagesForMe({ conversationId, messageIds: [fourth.messageId] });
    assert.equal(await unreadFor(bob), 2);

    await bob.markRead({ conversationId, seq: 2 });
    assert.equal(await unreadFor(bob), 0, 'messages 1 and 2 read, 3 recalled, 4 deleted');
    await say(alice, conversationId, '5');
    assert.equal(await unreadFor(bob), 1);
    const synced = (await bob.syncConversations({})).conversations.find((c) => c.conversationId === conversationId)!;
    assert.equal(synced.unreadCount, 1, 'SyncConversations reports the same count');
    assert.deepEqual(synced.lastMessage?.content, text('5'));
  });

  test('pinned conversations come first (latest pin first), then by last activity; mute is remembered per user', async () => {
    const withAlice = (await carol.sendMessage({ target: toUser(h.alice), clientMsgId: randomUUID(), content: text('from carol') })).conversationId;
    const group = await groupConversation(h, [h.alice, h.bob, h.carol]);
    await say(bob, group, 'group hello');
    const withBob = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('latest') })).conversationId;

    const byActivity = (await listed(alice)).map((c) => c.conversationId);
    assert.deepEqual(byActivity.slice(0, 3), [withBob, group, withAlice], 'newest activity first');

    await alice.updateConversationSettings({ conversationId: withAlice, pinned: true, muted: true });
    const pinnedGroup = await alice.updateConversationSettings({ conversationId: group, pinned: true });
    assert.equal(pinnedGroup.conversation?.pinned, true);
    assert.equal(pinnedGroup.conversation?.muted, false, 'an unset field keeps its value');
    const ordered = await listed(alice);
    assert.deepEqual(ordered.slice(0, 3).map((c) => c.conversationId), [group, withAlice, withBob]);
    assert.deepEqual(ordered.slice(0, 3).map((c) => [c.pinned, c.muted]), [[true, false], [true, true], [false, false]]);
    assert.equal((await listed(carol)).find((c) => c.conversationId === withAlice)!.muted, false, "Alice's mute is hers alone");

    await alice.updateConversationSettings({ conversationId: group, pinned: false });
    assert.deepEqual((await listed(alice)).slice(0, 2).map((c) => c.conversationId), [withAlice, withBob]);
    await expectStatus(
      alice.updateConversationSettings({ conversationId: `dm:${randomUUID()}:${randomUUID()}`, muted: true }),
      Status.NOT_FOUND,
      /Conversation not found/,
    );
  });

  test('the list pages with an opaque token, each conversation once', async () => {
    const all = await listed(alice);
    assert.ok(all.length >= 3);
    const paged: string[] = [];
    let pageToken = '';
    do {
      const page = await alice.listConversations({ pageSize: 1, pageToken });
      paged.push(...page.conversations.map((c) => c.conversationId));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    assert.deepEqual(paged, all.map((c) => c.conversationId));
    await expectStatus(alice.listConversations({ pageToken: 'forged' }), Status.INVALID_ARGUMENT, /page_token is not one this server issued/);
  });

  test('history pages backwards from the newest with has_more, then forwards again, in seq order', async () => {
    const conversationId = (await carol.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('m1') })).conversationId;
    for (let i = 2; i <= 12; i += 1) await say(carol, conversationId, `m${i}`);
    const newest = await bob.pullMessages({ conversationId, beforeSeq: 13, limit: 5 });
    assert.deepEqual(newest.messages.map((m) => m.seq), [8, 9, 10, 11, 12]);
    assert.equal(newest.hasMore, true);
    const older = await bob.pullMessages({ conversationId, beforeSeq: 8, limit: 5 });
    assert.deepEqual(older.messages.map((m) => m.seq), [3, 4, 5, 6, 7]);
    const oldest = await bob.pullMessages({ conversationId, beforeSeq: 3, limit: 5 });
    assert.deepEqual(oldest.messages.map((m) => m.seq), [1, 2]);
    assert.equal(oldest.hasMore, false, 'nothing older');

    const forwards = await bob.pullMessages({ conversationId, afterSeq: 9, limit: 5 });
    assert.deepEqual(forwards.messages.map((m) => m.seq), [10, 11, 12]);
    assert.equal(forwards.hasMore, false);
    const window = await bob.pullMessages({ conversationId, afterSeq: 4, beforeSeq: 8, limit: 10 });
    assert.deepEqual(window.messages.map((m) => m.seq), [5, 6, 7], 'both bounds: the window between them');
    await expectStatus(bob.pullMessages({ conversationId, afterSeq: 5, beforeSeq: 6 }), Status.INVALID_ARGUMENT, /before_seq must be more than after_seq \+ 1/);
  });
});
