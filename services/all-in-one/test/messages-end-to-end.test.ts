// Messages through the whole mesh (edge, core, connect) with the SDK: typing
// indicators travel live from each kind of client (native gRPC stream,
// WebSocket, grpc-web through the Ack RPC) to the other members and never back
// to the typist; edits, reactions and recalls reach a live client as events in
// seq order, and a pull shows the final state.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createChannel, createClient, Metadata, type Channel } from 'nice-grpc';
import { groupV1, messageV1, type connectV1 } from '@im-mesh/contracts';
import { newUser, openClient, startTestMesh, waitFor, type Inbox, type TestMesh, type TestUser } from './support/mesh-harness.js';

describe('messages end to end', () => {
  let mesh: TestMesh;
  const channels: Channel[] = [];
  const inboxes: Inbox[] = [];
  before(async () => {
    mesh = await startTestMesh('messages', { CORE_GROUP_AVATAR_QUIET_MS: '3600000', CORE_GROUP_AVATAR_MAX_WAIT_MS: '3600000' });
  });
  after(async () => {
    for (const inbox of inboxes) await inbox.client.close();
    for (const channel of channels) channel.close();
    await mesh?.stop();
  });

  async function rpcAs<Definition extends typeof groupV1.GroupServiceDefinition | typeof messageV1.MessageServiceDefinition>(
    definition: Definition,
    user: TestUser,
  ) {
    const channel = createChannel(mesh.url);
    channels.push(channel);
    const metadata = Metadata({ authorization: `Bearer ${await user.auth.getAccessToken()}` });
    return createClient(definition, channel, { '*': { metadata } });
  }

  function typingSeenBy(inbox: Inbox): connectV1.TypingIndicator[] {
    const seen: connectV1.TypingIndicator[] = [];
    inbox.client.onTyping((indicator) => seen.push(indicator));
    return seen;
  }

  test('typing from a gRPC stream, a WebSocket and grpc-web reaches the other members live, and never the typist', async () => {
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((name) => newUser(mesh.url, name)));
    const aliceInbox = await openClient(mesh.url, alice!, 'grpc');
    const bobInbox = await openClient(mesh.url, bob!, 'websocket');
    const carolInbox = await openClient(mesh.url, carol!, 'grpc-web');
    inboxes.push(aliceInbox, bobInbox, carolInbox);
    const aliceSaw = typingSeenBy(aliceInbox);
    const bobSaw = typingSeenBy(bobInbox);
    const carolSaw = typingSeenBy(carolInbox);
    const groups = await rpcAs(groupV1.GroupServiceDefinition, alice!);
    const { group } = await groups.createGroup({ name: 'Typists', memberUserIds: [bob!.userId, carol!.userId] });
    const groupId = group!.groupId;

    assert.equal(await aliceInbox.client.setTyping(groupId, true), true);
    await waitFor(() => bobSaw.length >= 1 && carolSaw.length >= 1, () => `bob saw ${JSON.stringify(bobSaw)}, carol saw ${JSON.stringify(carolSaw)}`);
    assert.deepEqual(bobSaw[0], { conversationId: groupId, userId: alice!.userId, typing: true });

    await carolInbox.client.setTyping(groupId, true);
    await bobInbox.client.setTyping(groupId, true);
    await bobInbox.client.setTyping(groupId, false);
    const fromBob = (seen: connectV1.TypingIndicator[]) => seen.filter((t) => t.userId === bob!.userId).map((t) => t.typing);
    await waitFor(
      () => fromBob(aliceSaw).length >= 2 && fromBob(carolSaw).length >= 2 && aliceSaw.some((t) => t.userId === carol!.userId),
      () => `alice saw ${JSON.stringify(aliceSaw)}, carol saw ${JSON.stringify(carolSaw)}`,
    );
    assert.deepEqual(fromBob(aliceSaw), [true, false]);
    assert.deepEqual(fromBob(carolSaw), [true, false]);
    await sleep(300); // A typist's own indicator would have arrived by now.
    assert.deepEqual(aliceSaw.filter((t) => t.userId === alice!.userId), []);
    assert.deepEqual(carolSaw.filter((t) => t.userId === carol!.userId), []);
    assert.deepEqual(bobSaw.filter((t) => t.userId === bob!.userId), []);
    assert.equal(bobInbox.received.filter((m) => m.text !== '<groupEvent>').length, 0, 'typing is not a message');
  });

  test('an edit, a reaction and a recall reach a live WebSocket client as events, and a pull shows the final state', async () => {
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((name) => newUser(mesh.url, name)));
    const aliceInbox = await openClient(mesh.url, alice!, 'grpc');
    const bobInbox = await openClient(mesh.url, bob!, 'websocket');
    inboxes.push(aliceInbox, bobInbox);
    const kept = await aliceInbox.client.sendText({ toUserId: bob!.userId }, 'see you at 5');
    const withdrawn = await aliceInbox.client.sendText({ toUserId: bob!.userId }, 'wrong chat');
    const aliceRpc = await rpcAs(messageV1.MessageServiceDefinition, alice!);
    await aliceRpc.editMessage({ messageId: kept.messageId, content: { body: { $case: 'text', value: { text: 'see you at 6', mentionUserIds: [] } } } });
    await aliceRpc.reactToMessage({ messageId: kept.messageId, emoji: '👍', remove: false });
    await aliceRpc.recallMessage({ messageId: withdrawn.messageId });

    await waitFor(() => bobInbox.received.length >= 5, () => `bob got ${JSON.stringify(bobInbox.received)}`);
    assert.deepEqual(
      bobInbox.received.map((m) => [m.seq, m.text]),
      [
        [1, 'see you at 5'],
        [2, 'wrong chat'],
        [3, '<edit>'],
        [4, '<reaction>'],
        [5, '<recall>'],
      ],
    );
    const bobRpc = await rpcAs(messageV1.MessageServiceDefinition, bob!);
    const pulled = await bobRpc.pullMessages({ conversationId: kept.conversationId, afterSeq: 0, limit: 10 });
    const [first, second] = pulled.messages;
    assert.deepEqual(first?.content, { body: { $case: 'text', value: { text: 'see you at 6', mentionUserIds: [] } } });
    assert.equal(first?.editCount, 1);
    assert.deepEqual(first?.reactions.map((r) => [r.emoji, r.count]), [['👍', 1]]);
    assert.equal(second?.recalled, true);
    assert.equal(second?.content, undefined);
  });
});
