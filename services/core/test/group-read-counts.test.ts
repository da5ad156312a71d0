// Group "read by N" and "who has read", from the members' read watermarks.
// The group conversation is made in SQL (conversations + conversation_members),
// so this tests the computation itself, independent of GroupService.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Status } from 'nice-grpc';
import { CoreHarness, inConversation, text, type MessageClient } from './support/core-harness.js';
import { expectStatus, groupConversation } from './support/message-fixtures.js';

describe('group read counts', () => {
  let h: CoreHarness;
  let alice: MessageClient;
  let bob: MessageClient;
  let carol: MessageClient;
  const dave = randomUUID();

  before(async () => {
    h = await CoreHarness.start();
    alice = h.messagesAs(h.alice, 'alice-phone');
    bob = h.messagesAs(h.bob, 'bob-phone');
    carol = h.messagesAs(h.carol, 'carol-phone');
  });
  after(async () => {
    await h.close();
  });

  test('read counts and readers follow each member\'s read_seq; the sender and later joiners are not counted; no row per message', async () => {
    const group = await groupConversation(h, [h.alice, h.bob, h.carol]);
    const send = (words: string) => alice.sendMessage({ target: inConversation(group), clientMsgId: randomUUID(), content: text(words) });
    const first = await send('one');
    const second = await send('two');
    // Dave joins after both messages: they predate him, so he is neither a reader nor a non-reader.
    await h.query('INSERT INTO core.conversation_members (conversation_id, user_id, joined_seq) VALUES ($1, $2, $3)', [group, dave, second.seq]);

    const counts = async () =>
      (await alice.getReadCounts({ conversationId: group, messageIds: [first.messageId, second.messageId] })).counts.map((c) => [
        c.readCount,
        c.unreadCount,
      ]);
    assert.deepEqual(await counts(), [[0, 2], [0, 2]]);
    await bob.markRead({ conversationId: group, seq: first.seq });
    assert.deepEqual(await counts(), [[1, 1], [0, 2]]);
    await carol.markRead({ conversationId: group, seq: second.seq });
    assert.deepEqual(await counts(), [[2, 0], [1, 1]]);

    const readers = await carol.getMessageReaders({ messageId: second.messageId });
    assert.deepEqual(readers.readUserIds, [h.carol]);
    assert.deepEqual(readers.unreadUserIds, [h.bob]);
    assert.equal(await h.count('conversation_members', 'conversation_id = $1', [group]), 4, 'reads are watermarks: only member rows exist');
  });

  test('only members see counts; unknown or foreign ids are NOT_FOUND; bad batches are INVALID_ARGUMENT', async () => {
    const group = await groupConversation(h, [h.alice, h.bob]);
    const sent = await alice.sendMessage({ target: inConversation(group), clientMsgId: randomUUID(), content: text('members only') });
    await expectStatus(carol.getReadCounts({ conversationId: group, messageIds: [sent.messageId] }), Status.NOT_FOUND, /1 of the messages were not found/);
    await expectStatus(carol.getMessageReaders({ messageId: sent.messageId }), Status.NOT_FOUND, /Message not found/);
    await expectStatus(alice.getReadCounts({ conversationId: group, messageIds: [] }), Status.INVALID_ARGUMENT, /Ask for 1 to 200 messages/);
    await expectStatus(alice.getReadCounts({ conversationId: group, messageIds: ['x'] }), Status.INVALID_ARGUMENT, /must be a message id/);
  });
});
