// Messages in real groups (GroupService): owners and admins recall other
// members' messages at any time (groups' RecallAuthority), members cannot, and
// who-has-read follows the members' watermarks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { groupV1, messageV1 } from '@im-mesh/contracts';
import { CoreHarness, inConversation, text, type MessageClient } from './support/core-harness.js';
import { expectStatus } from './support/message-fixtures.js';

describe('messages in groups', () => {
  let h: CoreHarness;
  let channel: Channel;
  let alice: MessageClient;
  let bob: MessageClient;
  let carol: MessageClient;
  let groupId: string;

  before(async () => {
    h = await CoreHarness.start();
    channel = createChannel(h.core.grpcAddress);
    const groups = createClient(groupV1.GroupServiceDefinition, channel, {
      '*': { metadata: Metadata({ authorization: `Bearer ${h.auth.token(h.alice, 'alice-phone')}` }) },
    });
    const created = await groups.createGroup({
      name: 'Team',
      memberUserIds: [h.bob, h.carol],
      joinPolicy: messageV1.GroupJoinPolicy.GROUP_JOIN_POLICY_UNSPECIFIED,
      historyVisibleToNewMembers: false,
      clientRequestId: randomUUID(),
    });
    groupId = created.group!.groupId;
    await groups.setMemberRole({ groupId, userId: h.bob, role: messageV1.GroupRole.GROUP_ROLE_ADMIN });
    alice = h.messagesAs(h.alice, 'alice-phone');
    bob = h.messagesAs(h.bob, 'bob-phone');
    carol = h.messagesAs(h.carol, 'carol-phone');
  });
  after(async () => {
    channel.close();
    await h.close();
  });

  const say = (client: MessageClient, words: string) =>
    client.sendMessage({ target: inConversation(groupId), clientMsgId: randomUUID(), content: text(words) });

  test("the owner and an admin recall a member's message, even after the window; a member cannot recall theirs", async () => {
    const spam = await say(carol, 'buy cheap watches');
    await h.query("UPDATE core.messages SET created_at = now() - interval '1 hour' WHERE id = $1", [spam.messageId]);
    await expectStatus(carol.recallMessage({ messageId: spam.messageId }), Status.FAILED_PRECONDITION, /within 2 minutes/);
    const byAdmin = await bob.recallMessage({ messageId: spam.messageId });
    const [event] = (await carol.pullMessages({ conversationId: groupId, afterSeq: byAdmin.eventSeq - 1, limit: 1 })).messages;
    assert.deepEqual(event?.content, {
      body: { $case: 'recall', value: { targetMessageId: spam.messageId, targetSeq: spam.seq, recalledBy: h.bob } },
    });

    const bobs = await say(bob, 'admin says hi');
    await expectStatus(carol.recallMessage({ messageId: bobs.messageId }), Status.PERMISSION_DENIED, /Only the sender \(or a group owner or admin\)/);
    await alice.recallMessage({ messageId: bobs.messageId });
    const [recalled] = (await carol.pullMessages({ conversationId: groupId, afterSeq: bobs.seq - 1, limit: 1 })).messages;
    assert.equal(recalled?.recalled, true);
    assert.equal(recalled?.recalledBy, h.alice);
  });

  test('who has read a group message follows the members\' read watermarks', async () => {
    const notice = await say(alice, 'meeting at 3');
    await carol.markRead({ conversationId: groupId, seq: notice.seq });
    const readers = await alice.getMessageReaders({ messageId: notice.messageId });
    assert.deepEqual(readers.readUserIds, [h.carol]);
    assert.deepEqual(readers.unreadUserIds, [h.bob]);
    const [count] = (await bob.getReadCounts({ conversationId: groupId, messageIds: [notice.messageId] })).counts;
    assert.deepEqual([count?.readCount, count?.unreadCount], [1, 1]);
  });
});
