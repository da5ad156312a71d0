// Typing indicators through core (im.internal.v1.TypingService, called by
// connect nodes): pushed live to the other members' devices, never to the
// typist's own, refused for non-members, and never stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createChannel, createClient, Status } from 'nice-grpc';
import { internalV1 } from '@im-mesh/contracts';
import { MAX_TYPING_AUDIENCE } from '../src/messages/typing-relay.js';
import { CoreHarness, eventually, text, toUser } from './support/core-harness.js';
import { expectStatus, groupConversation, messageRows } from './support/message-fixtures.js';

describe('typing indicators', () => {
  let h: CoreHarness;
  let relay: ReturnType<typeof createClient<typeof internalV1.TypingServiceDefinition>>;
  let channel: ReturnType<typeof createChannel>;
  let conversationId: string;

  before(async () => {
    h = await CoreHarness.start();
    channel = createChannel(h.core.grpcAddress);
    relay = createClient(internalV1.TypingServiceDefinition, channel, { '*': h.asConnectNode() });
    conversationId = (await h.messagesAs(h.alice, 'alice-phone').sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hi') }))
      .conversationId;
  });
  after(async () => {
    channel.close();
    await h.close();
  });

  const typingFramesFor = (userId: string, deviceId: string) =>
    h.framesFor(userId, deviceId).flatMap((f) => (f.kind?.$case === 'typing' ? [f.kind.value] : []));

  test("alice typing reaches both of bob's live devices, not her own other device, and stores nothing", async () => {
    await h.online(h.bob, 'bob-phone');
    await h.online(h.bob, 'bob-laptop');
    await h.online(h.alice, 'alice-laptop');
    await eventually('the first message was pushed', async () => (await h.count('outbox')) === 0);
    const before = await messageRows(h);

    const started = await relay.relayTyping({ userId: h.alice, deviceId: 'alice-phone', conversationId, typing: true });
    assert.equal(started.devices, 2);
    await relay.relayTyping({ userId: h.alice, deviceId: 'alice-phone', conversationId, typing: false });
    await eventually('both indicators on both of bob\'s devices', () => typingFramesFor(h.bob, 'bob-laptop').length === 2 && typingFramesFor(h.bob, 'bob-phone').length === 2);
    assert.deepEqual(typingFramesFor(h.bob, 'bob-phone'), [
      { conversationId, userId: h.alice, typing: true },
      { conversationId, userId: h.alice, typing: false },
    ]);
    assert.deepEqual(typingFramesFor(h.alice, 'alice-laptop'), [], 'the typist does not see herself typing');
    assert.deepEqual(await messageRows(h), before, 'typing is not stored');
  });

  test(`a crowd of ${MAX_TYPING_AUDIENCE} or more other members gets no typing indicators`, async () => {
    await h.online(h.bob, 'bob-phone');
    await h.online(h.bob, 'bob-laptop');
    const crowd = Array.from({ length: MAX_TYPING_AUDIENCE - 1 }, () => randomUUID());
    const big = await groupConversation(h, [h.alice, h.bob, ...crowd]);
    const small = await groupConversation(h, [h.alice, h.bob, ...crowd.slice(1)]);
    assert.equal((await relay.relayTyping({ userId: h.alice, deviceId: 'alice-phone', conversationId: big, typing: true })).devices, 0);
    assert.equal((await relay.relayTyping({ userId: h.alice, deviceId: 'alice-phone', conversationId: small, typing: true })).devices, 2, "bob's two devices");
  });

  test('someone outside the conversation cannot send typing into it; bad ids are refused', async () => {
    await expectStatus(
      relay.relayTyping({ userId: h.carol, deviceId: 'carol-phone', conversationId, typing: true }),
      Status.NOT_FOUND,
      /Conversation not found, or you are not a member/,
    );
    await expectStatus(relay.relayTyping({ userId: 'nobody', deviceId: 'x', conversationId, typing: true }), Status.INVALID_ARGUMENT, /user_id must be a user id/);
    assert.deepEqual(typingFramesFor(h.bob, 'bob-phone').filter((t) => t.userId === h.carol), []);
  });
});
