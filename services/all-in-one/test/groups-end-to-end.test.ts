// Groups through the whole mesh (edge, core, connect) with the SDK on the
// receiving end: members get the group's messages and events live; a member
// invited into a group with hidden history starts at the invite without
// stalling; a kicked member gets the kick and nothing after; a member who was
// offline throughout gets everything, in order, once, on reconnect.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createChannel, createClient, Metadata, type Channel } from 'nice-grpc';
import { groupV1 } from '@im-mesh/contracts';
import { newUser, openClient, startTestMesh, waitFor, type TestMesh, type TestUser } from './support/mesh-harness.js';

describe('groups end to end', () => {
  let mesh: TestMesh;
  const channels: Channel[] = [];
  before(async () => {
    mesh = await startTestMesh('groups', { CORE_GROUP_AVATAR_QUIET_MS: '3600000', CORE_GROUP_AVATAR_MAX_WAIT_MS: '3600000' });
  });
  after(async () => {
    for (const channel of channels) channel.close();
    await mesh?.stop();
  });

  async function groupsAs(user: TestUser) {
    const channel = createChannel(mesh.url);
    channels.push(channel);
    const metadata = Metadata({ authorization: `Bearer ${await user.auth.getAccessToken()}` });
    return createClient(groupV1.GroupServiceDefinition, channel, { '*': { metadata } });
  }

  test('live members, a member invited mid-stream, a kicked member and one offline throughout each see exactly their part', async () => {
    const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((name) => newUser(mesh.url, name)));
    const bobInbox = await openClient(mesh.url, bob!, 'websocket');
    const daveInbox = await openClient(mesh.url, dave!, 'grpc-web');
    const aliceInbox = await openClient(mesh.url, alice!, 'grpc');
    const owner = await groupsAs(alice!);

    const { group } = await owner.createGroup({ name: 'Trail crew', memberUserIds: [bob!.userId, carol!.userId] });
    const groupId = group!.groupId;
    for (const words of ['one', 'two', 'three']) await aliceInbox.client.sendText({ conversationId: groupId }, words);
    await waitFor(() => bobInbox.received.length >= 3, () => `bob got ${JSON.stringify(bobInbox.received)}`);

    // Dave is connected but has never seen this group; his first push is the invite (seq 5).
    await owner.inviteMembers({ groupId, userIds: [dave!.userId] });
    await aliceInbox.client.sendText({ conversationId: groupId }, 'welcome dave');
    await waitFor(() => daveInbox.received.length >= 1, () => `dave got ${JSON.stringify(daveInbox.received)}`);
    // Dave's own invite event is sent by alice, so it counts as received; then the text.
    await waitFor(() => daveInbox.received.some((m) => m.text === 'welcome dave'), () => `dave got ${JSON.stringify(daveInbox.received)}`);

    await owner.kickMember({ groupId, userId: bob!.userId });
    await aliceInbox.client.sendText({ conversationId: groupId }, 'after bob left');
    await waitFor(() => daveInbox.received.some((m) => m.text === 'after bob left'), () => `dave got ${JSON.stringify(daveInbox.received)}`);
    await waitFor(() => bobInbox.received.some((m) => m.text === '<groupEvent>' && m.seq === 7), () => `bob got ${JSON.stringify(bobInbox.received)}`);
    await sleep(300); // Anything bob should not get would arrive within this window.

    assert.deepEqual(
      bobInbox.received.map((m) => [m.seq, m.text]),
      [
        [1, '<groupEvent>'],
        [2, 'one'],
        [3, 'two'],
        [4, 'three'],
        [5, '<groupEvent>'],
        [6, 'welcome dave'],
        [7, '<groupEvent>'],
      ],
      'bob: everything up to and including his kick, nothing after',
    );
    assert.deepEqual(
      daveInbox.received.map((m) => [m.seq, m.text]),
      [
        [5, '<groupEvent>'],
        [6, 'welcome dave'],
        [7, '<groupEvent>'],
        [8, 'after bob left'],
      ],
      'dave: from his invite on, in order, once',
    );

    // Carol was offline the whole time: one reconnect brings all eight, in order, once.
    const carolInbox = await openClient(mesh.url, carol!, 'grpc');
    await waitFor(() => carolInbox.received.length >= 8, () => `carol got ${JSON.stringify(carolInbox.received)}`);
    await sleep(300);
    assert.deepEqual(
      carolInbox.received.map((m) => m.seq),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    const members = await (await groupsAs(carol!)).listMembers({ groupId });
    assert.deepEqual(members.members.map((m) => m.userId).sort(), [alice!.userId, carol!.userId, dave!.userId].sort());

    for (const inbox of [bobInbox, daveInbox, aliceInbox, carolInbox]) await inbox.client.close();
  });
});
