// Recall, edit, reactions, pins and delete-for-me over gRPC. Every change
// another device must see is a sequenced event in the conversation (pushed to
// live devices through the outbox) and also updates the target message, so a
// device that was offline sees the final state and the events after one pull.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Status } from 'nice-grpc';
import type { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, eventually, inConversation, text, toUser, type MessageClient } from './support/core-harness.js';
import { custom, expectStatus, messageRows, reply } from './support/message-fixtures.js';

describe('message events', () => {
  let h: CoreHarness;
  let alice: MessageClient;
  let bob: MessageClient;
  let carol: MessageClient;
  let conversationId: string;

  before(async () => {
    h = await CoreHarness.start();
    alice = h.messagesAs(h.alice, 'alice-phone');
    bob = h.messagesAs(h.bob, 'bob-phone');
    carol = h.messagesAs(h.carol, 'carol-phone');
    conversationId = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hi') })).conversationId;
  });
  after(async () => {
    await h.close();
  });

  async function say(words: string, client = alice): Promise<messageV1.SendMessageResponse> {
    return client.sendMessage({ target: inConversation(conversationId), clientMsgId: randomUUID(), content: text(words) });
  }

  async function pullOne(messageId: string, client = bob): Promise<messageV1.Message> {
    const all = await client.pullMessages({ conversationId, afterSeq: 0, limit: 500 });
    const found = all.messages.find((m) => m.messageId === messageId);
    assert.ok(found, `message ${messageId} is pulled`);
    return found;
  }

  /** Makes the call only after counting the rows, then checks it failed and changed none. */
  async function unchanged(call: () => Promise<unknown>, code: Status, reason: RegExp): Promise<void> {
    const before = await messageRows(h);
    await expectStatus(call(), code, reason);
    assert.deepEqual(await messageRows(h), before, 'a refused change leaves every row as it was');
  }

  test('the sender recalls within the window: content is gone for everyone, a RecallEvent follows, a retry returns the same event', async () => {
    const sent = await say('oops, wrong chat');
    const recall = await alice.recallMessage({ messageId: sent.messageId });
    assert.equal(recall.eventSeq, sent.seq + 1, 'the event takes the next seq');

    const target = await pullOne(sent.messageId);
    assert.equal(target.recalled, true);
    assert.equal(target.recalledBy, h.alice);
    assert.equal(target.content, undefined, 'the recalled text is not served any more');
    const event = await pullOne(recall.eventMessageId);
    assert.deepEqual(event.content, {
      body: { $case: 'recall', value: { targetMessageId: sent.messageId, targetSeq: sent.seq, recalledBy: h.alice } },
    });

    const again = await alice.recallMessage({ messageId: sent.messageId });
    assert.deepEqual(again, recall, 'recalling twice is answered with the first recall');
    assert.equal(await h.count('messages', 'conversation_id = $1 AND kind = 11', [conversationId]), 1, 'one RecallEvent, not two');
  });

  test('recall is refused after the window, for other people\'s messages and for messages one cannot see; nothing changes', async () => {
    const old = await say('said three minutes ago');
    await h.query("UPDATE core.messages SET created_at = now() - interval '3 minutes' WHERE id = $1", [old.messageId]);
    await unchanged(() => alice.recallMessage({ messageId: old.messageId }), Status.FAILED_PRECONDITION, /only be recalled within 2 minutes of sending/);

    const fresh = await say('mine, not yours');
    await unchanged(() => bob.recallMessage({ messageId: fresh.messageId }), Status.PERMISSION_DENIED, /Only the sender \(or a group owner or admin\)/);
    await unchanged(() => carol.recallMessage({ messageId: fresh.messageId }), Status.NOT_FOUND, /Message not found, or you cannot see it/);
    await unchanged(() => alice.recallMessage({ messageId: randomUUID() }), Status.NOT_FOUND, /Message not found/);
    await unchanged(() => alice.recallMessage({ messageId: 'not-an-id' }), Status.INVALID_ARGUMENT, /message_id must be a message id/);
  });

  test('an edit keeps the earlier versions, shows as edited, and sends the new content as an EditEvent', async () => {
    const sent = await say('meet at 5');
    const first = await alice.editMessage({ messageId: sent.messageId, content: text('meet at 6') });
    const second = await alice.editMessage({ messageId: sent.messageId, content: text('meet at 7') });
    assert.equal(first.editCount, 1);
    assert.equal(second.editCount, 2);

    const target = await pullOne(sent.messageId);
    assert.deepEqual(target.content, text('meet at 7'));
    assert.equal(target.editCount, 2);
    assert.ok(target.editedAt instanceof Date);
    const history = await bob.listMessageEdits({ messageId: sent.messageId });
    assert.deepEqual(
      history.edits.map((e) => [e.version, e.content]),
      [
        [0, text('meet at 5')],
        [1, text('meet at 6')],
      ],
    );
    const event = await pullOne(second.eventMessageId);
    assert.deepEqual(event.content, {
      body: { $case: 'edit', value: { targetMessageId: sent.messageId, targetSeq: sent.seq, content: text('meet at 7'), editCount: 2 } },
    });
  });

  test('only the sender edits, only text and replies, only into the same kind; nothing changes otherwise', async () => {
    const sent = await say('typo-free');
    await unchanged(() => bob.editMessage({ messageId: sent.messageId, content: text('hacked') }), Status.PERMISSION_DENIED, /Only the sender can edit/);
    await unchanged(() => alice.editMessage({ messageId: sent.messageId, content: text('') }), Status.INVALID_ARGUMENT, /cannot be empty/);
    await unchanged(() => alice.editMessage({ messageId: sent.messageId, content: custom() }), Status.INVALID_ARGUMENT, /must be text content/);
    const card = await alice.sendMessage({ target: inConversation(conversationId), clientMsgId: randomUUID(), content: custom() });
    await unchanged(() => alice.editMessage({ messageId: card.messageId, content: text('x') }), Status.FAILED_PRECONDITION, /Only text messages and replies/);
    const quoting = await alice.sendMessage({ target: inConversation(conversationId), clientMsgId: randomUUID(), content: reply(sent.messageId, 'ok') });
    await unchanged(() => alice.editMessage({ messageId: quoting.messageId, content: reply(card.messageId, 'ok!') }),
      Status.INVALID_ARGUMENT,
      /cannot change which message a reply quotes/,
    );
    const edited = await alice.editMessage({ messageId: quoting.messageId, content: reply(sent.messageId, 'ok!') });
    assert.equal(edited.editCount, 1, 'a reply can be edited when it keeps its quote');
    const recalled = await say('gone soon');
    await alice.recallMessage({ messageId: recalled.messageId });
    await unchanged(() => alice.editMessage({ messageId: recalled.messageId, content: text('back?') }), Status.FAILED_PRECONDITION, /recalled message cannot be edited/);
  });

  test('reactions are per user per emoji: adding twice or removing what is not there changes nothing and appends nothing', async () => {
    const sent = await say('pizza tonight?');
    const added = await bob.reactToMessage({ messageId: sent.messageId, emoji: '👍', remove: false });
    assert.equal(added.changed, true);
    const twice = await bob.reactToMessage({ messageId: sent.messageId, emoji: '👍', remove: false });
    assert.deepEqual(twice, { changed: false, eventMessageId: '', eventSeq: 0 });
    await alice.reactToMessage({ messageId: sent.messageId, emoji: '👍', remove: false });
    await alice.reactToMessage({ messageId: sent.messageId, emoji: '🍕', remove: false });

    const seenByBob = await pullOne(sent.messageId, bob);
    assert.deepEqual(
      seenByBob.reactions.map((r) => [r.emoji, r.count, r.userIds, r.mine]),
      [
        ['👍', 2, [h.bob, h.alice], true],
        ['🍕', 1, [h.alice], false],
      ],
    );
    const removed = await alice.reactToMessage({ messageId: sent.messageId, emoji: '🍕', remove: true });
    assert.equal(removed.changed, true);
    const removeAgain = await alice.reactToMessage({ messageId: sent.messageId, emoji: '🍕', remove: true });
    assert.equal(removeAgain.changed, false);
    const event = await pullOne(removed.eventMessageId);
    assert.deepEqual(event.content, {
      body: { $case: 'reaction', value: { targetMessageId: sent.messageId, targetSeq: sent.seq, userId: h.alice, emoji: '🍕', added: false } },
    });
    assert.equal(await h.count('message_reactions', 'message_id = $1', [sent.messageId]), 2);
    await unchanged(() => bob.reactToMessage({ messageId: sent.messageId, emoji: 'thumbs up', remove: false }), Status.INVALID_ARGUMENT, /without spaces/);
    await unchanged(() => bob.reactToMessage({ messageId: sent.messageId, emoji: '', remove: false }), Status.INVALID_ARGUMENT, /emoji must be 1 to 32/);
    await unchanged(() => carol.reactToMessage({ messageId: sent.messageId, emoji: '👀', remove: false }), Status.NOT_FOUND, /Message not found/);
  });

  test('pins: any participant pins, the list shows newest pin first, unpinning appends a PinEvent', async () => {
    const first = await say('address: 1 Main St');
    const second = await say('code: 4711', bob);
    const pinned = await bob.pinMessage({ messageId: first.messageId, unpin: false });
    assert.equal(pinned.changed, true);
    assert.equal((await alice.pinMessage({ messageId: first.messageId, unpin: false })).changed, false, 'pinning twice is a no-op');
    await alice.pinMessage({ messageId: second.messageId, unpin: false });

    const list = await alice.listPinnedMessages({ conversationId });
    assert.deepEqual(
      list.messages.map((m) => [m.messageId, m.pinned]),
      [
        [second.messageId, true],
        [first.messageId, true],
      ],
    );
    const unpinned = await alice.pinMessage({ messageId: first.messageId, unpin: true });
    assert.equal(unpinned.changed, true);
    assert.deepEqual((await bob.listPinnedMessages({ conversationId })).messages.map((m) => m.messageId), [second.messageId]);
    const event = await pullOne(unpinned.eventMessageId);
    assert.deepEqual(event.content, {
      body: { $case: 'pin', value: { targetMessageId: first.messageId, targetSeq: first.seq, pinnedBy: h.alice, pinned: false } },
    });
    await expectStatus(carol.listPinnedMessages({ conversationId }), Status.NOT_FOUND, /Conversation not found/);
  });

  test('a user has at most 20 reactions on a message and a conversation at most 50 pins; past that nothing changes', async () => {
    const target = await say('react to me');
    for (let i = 0; i < 20; i += 1) await bob.reactToMessage({ messageId: target.messageId, emoji: `r${i}`, remove: false });
    await unchanged(() => bob.reactToMessage({ messageId: target.messageId, emoji: 'one-more', remove: false }), Status.FAILED_PRECONDITION, /at most 20 different reactions/);
    assert.equal((await bob.reactToMessage({ messageId: target.messageId, emoji: 'r0', remove: false })).changed, false, 're-adding one is still a no-op');

    const { conversationId: crowded } = await carol.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('pin 0') });
    const first = await bob.pullMessages({ conversationId: crowded, afterSeq: 0, limit: 1 });
    await bob.pinMessage({ messageId: first.messages[0]!.messageId, unpin: false });
    for (let i = 1; i < 50; i += 1) {
      const sent = await carol.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text(`pin ${i}`) });
      await bob.pinMessage({ messageId: sent.messageId, unpin: false });
    }
    const extra = await carol.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('pin 50') });
    await unchanged(() => bob.pinMessage({ messageId: extra.messageId, unpin: false }), Status.FAILED_PRECONDITION, /at most 50 pinned messages/);
    assert.equal((await carol.listPinnedMessages({ conversationId: crowded })).messages.length, 50);
  });

  test('delete for me hides a message for its deleter only, keeps the seq as a tombstone, and bumps hidden_version', async () => {
    const sent = await say('embarrassing', bob);
    await h.online(h.alice, 'alice-tablet');
    await h.online(h.alice, 'alice-phone');
    const versionBefore = (await alice.syncConversations({})).conversations.find((c) => c.conversationId === conversationId)!.hiddenVersion;
    const deleted = await alice.deleteMessagesForMe({ conversationId, messageIds: [sent.messageId] });
    assert.equal(deleted.hiddenVersion, versionBefore + 1);
    const hint = (deviceId: string) =>
      h.framesFor(h.alice, deviceId).flatMap((f) => (f.kind?.$case === 'messagesHidden' ? [f.kind.value] : []));
    await eventually("alice's tablet is told at once", () => hint('alice-tablet').length === 1);
    assert.deepEqual(hint('alice-tablet'), [{ conversationId, messageIds: [sent.messageId], hiddenVersion: deleted.hiddenVersion }]);
    assert.deepEqual(hint('alice-phone'), [], 'the device that deleted already knows');

    const forAlice = await pullOne(sent.messageId, alice);
    assert.equal(forAlice.deletedForMe, true);
    assert.equal(forAlice.content, undefined);
    assert.equal(forAlice.seq, sent.seq, 'the seq stays, so the conversation has no gap');
    const forBob = await pullOne(sent.messageId, bob);
    assert.equal(forBob.deletedForMe, false);
    assert.deepEqual(forBob.content, text('embarrassing'));
    const synced = (await alice.syncConversations({})).conversations.find((c) => c.conversationId === conversationId)!;
    assert.equal(synced.hiddenVersion, deleted.hiddenVersion, "alice's other devices see hidden_version move on sync");

    // All or none: one unknown id and nothing is hidden.
    const other = await say('keep me', bob);
    await unchanged(() => alice.deleteMessagesForMe({ conversationId, messageIds: [other.messageId, randomUUID()] }),
      Status.NOT_FOUND,
      /1 of the messages were not found.*nothing was deleted/,
    );
    await unchanged(() => alice.deleteMessagesForMe({ conversationId, messageIds: [] }), Status.INVALID_ARGUMENT, /Name 1 to 100 messages/);
    const again = await alice.deleteMessagesForMe({ conversationId, messageIds: [sent.messageId] });
    assert.equal(again.hiddenVersion, deleted.hiddenVersion, 'deleting again changes nothing');
  });

  test("bob's tablet, offline during a recall, two edits, reactions and a pin, sees the final state and every event after one pull", async () => {
    const phone = await h.online(h.bob, 'bob-phone');
    const kept = await say('v1');
    const withdrawn = await say('to be withdrawn');
    await alice.editMessage({ messageId: kept.messageId, content: text('v2') });
    await alice.editMessage({ messageId: kept.messageId, content: text('v3') });
    await alice.recallMessage({ messageId: withdrawn.messageId });
    await alice.reactToMessage({ messageId: kept.messageId, emoji: '🎉', remove: false });
    await alice.pinMessage({ messageId: kept.messageId, unpin: false });

    // The live phone gets every event pushed, in seq order.
    const pushedEvents = () => h.messagesFor(h.bob, phone.deviceId).filter((m) => m.conversationId === conversationId && m.seq > withdrawn.seq);
    await eventually('five events pushed to bob-phone', () => pushedEvents().length >= 5);
    const pushed = pushedEvents();
    assert.deepEqual(
      pushed.map((m) => m.content?.body?.$case),
      ['edit', 'edit', 'recall', 'reaction', 'pin'],
    );
    assert.deepEqual(
      pushed.map((m) => m.seq),
      [...pushed.map((m) => m.seq)].sort((a, b) => a - b),
    );

    // The tablet was never online: it pulls from its last seq and converges.
    const tablet = h.messagesAs(h.bob, 'bob-tablet');
    const pulled = (await tablet.pullMessages({ conversationId, afterSeq: kept.seq - 1, limit: 500 })).messages;
    const finalKept = pulled.find((m) => m.messageId === kept.messageId)!;
    assert.deepEqual(finalKept.content, text('v3'));
    assert.equal(finalKept.editCount, 2);
    assert.equal(finalKept.pinned, true);
    assert.deepEqual(finalKept.reactions.map((r) => [r.emoji, r.count]), [['🎉', 1]]);
    const finalWithdrawn = pulled.find((m) => m.messageId === withdrawn.messageId)!;
    assert.equal(finalWithdrawn.recalled, true);
    assert.equal(finalWithdrawn.content, undefined);
    assert.deepEqual(
      pulled.filter((m) => m.seq > withdrawn.seq).map((m) => m.content?.body?.$case),
      ['edit', 'edit', 'recall', 'reaction', 'pin'],
      'and the events themselves, in order, for a client that applies them',
    );
    assert.deepEqual(
      pulled.map((m) => m.seq),
      pulled.map((_, i) => kept.seq + i),
      'no gaps',
    );
  });
});
