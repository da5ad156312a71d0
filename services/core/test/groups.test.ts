// Groups end to end over gRPC against a real core and PostgreSQL: the
// permission matrix (every refusal has the right status and changes nothing),
// the GroupEvents every change appends, member windows in pull and sync, pushes
// that follow membership, and a device that was offline during the changes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, eventually, inConversation, text } from './support/core-harness.js';
import { eventKinds, GroupFixture, groupEvents, rejectsWith, type GroupClient } from './support/group-fixtures.js';

const { GroupRole, GroupJoinPolicy } = messageV1;
const MEMBER_LIMIT = 6;

describe('groups over gRPC', () => {
  let h: CoreHarness;
  let f: GroupFixture;
  let blobDir: string;
  before(async () => {
    blobDir = await mkdtemp(join(tmpdir(), 'group-blobs-'));
    h = await CoreHarness.start({
      config: {
        CORE_GROUP_MEMBER_LIMIT: String(MEMBER_LIMIT),
        BLOBS_DIR: blobDir,
        // No picture renders here (group-avatars.test.ts covers them), so the
        // seqs of the events these tests assert on are theirs alone.
        CORE_GROUP_AVATAR_QUIET_MS: '3600000',
        CORE_GROUP_AVATAR_MAX_WAIT_MS: '3600000',
      },
    });
    f = new GroupFixture(h);
  });
  after(async () => {
    f.close();
    await h.close();
    await rm(blobDir, { recursive: true, force: true });
  });

  async function newGroup(owner: string, members: string[], extra: Partial<Parameters<GroupClient['createGroup']>[0]> = {}) {
    const { group } = await f.groupsAs(owner).createGroup({ name: 'Hiking club', memberUserIds: members, ...extra });
    return group!;
  }

  /** Messages and members of a group, to show a refused call changed nothing. */
  async function snapshot(groupId: string) {
    return {
      messages: await h.count('messages', 'conversation_id = $1', [groupId]),
      members: await h.count('group_members', 'group_id = $1', [groupId]),
      roles: await h.query<{ user_id: string; role: number; muted_until: Date | null }>(
        'SELECT user_id, role, muted_until FROM core.group_members WHERE group_id = $1 ORDER BY user_id',
        [groupId],
      ),
      group: await h.query('SELECT name, notice, owner_id, mute_all, member_count, dissolved_at FROM core.groups WHERE id = $1', [groupId]),
    };
  }

  test('Alice creates a group with Bob and Carol: she owns it, all three see it and its created event at seq 1; a retry returns the same group', async () => {
    const requestId = randomUUID();
    const group = await newGroup(h.alice, [h.bob, h.carol, h.bob], { clientRequestId: requestId });
    assert.match(group.groupId, /^g:[0-9a-f-]{36}$/);
    assert.deepEqual(
      [group.name, group.ownerUserId, group.memberCount, group.memberLimit, group.myRole],
      ['Hiking club', h.alice, 3, MEMBER_LIMIT, GroupRole.GROUP_ROLE_OWNER],
    );
    const retry = await newGroup(h.alice, [h.bob, h.carol], { clientRequestId: requestId });
    assert.equal(retry.groupId, group.groupId);
    assert.equal(await h.count('groups', 'creator_id = $1 AND client_request_id = $2', [h.alice, requestId]), 1);

    const bobsView = await f.groupsAs(h.bob).getGroup({ groupId: group.groupId });
    assert.equal(bobsView.group?.myRole, GroupRole.GROUP_ROLE_MEMBER);
    const mine = await f.groupsAs(h.carol).listMyGroups({});
    assert.ok(mine.groups.some((g) => g.groupId === group.groupId));
    const members = await f.groupsAs(h.carol).listMembers({ groupId: group.groupId });
    assert.deepEqual(
      members.members.map((m) => [m.userId, m.role]),
      [
        [h.alice, GroupRole.GROUP_ROLE_OWNER],
        [h.bob, GroupRole.GROUP_ROLE_MEMBER],
        [h.carol, GroupRole.GROUP_ROLE_MEMBER],
      ],
    );

    const pulled = await f.pullAll(h.carol, group.groupId);
    assert.equal(pulled[0]!.seq, 1);
    assert.equal(pulled[0]!.senderId, h.alice);
    const [created] = groupEvents(pulled);
    assert.deepEqual(created, {
      actorUserId: h.alice,
      change: { $case: 'created', value: { name: 'Hiking club', memberUserIds: [h.alice, h.bob, h.carol] } },
    });
    // Members talk in it with SendMessage like in any conversation.
    const sent = await h.messagesAs(h.bob, 'bob-phone').sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('hi all') });
    assert.equal(sent.seq, 2);
  });

  test('a non-member reading a group is NOT_FOUND with the same words as a group that does not exist, and learns nothing', async () => {
    const group = await newGroup(h.alice, [h.bob]);
    const carol = f.groupsAs(h.carol);
    const missing = `g:${randomUUID()}`;
    for (const groupId of [group.groupId, missing]) {
      await rejectsWith(carol.getGroup({ groupId }), Status.NOT_FOUND, /^Group not found, or you are not a member of it\.$/);
      await rejectsWith(carol.listMembers({ groupId }), Status.NOT_FOUND);
      await rejectsWith(carol.updateGroup({ groupId, name: 'Mine now' }), Status.NOT_FOUND);
    }
    await rejectsWith(h.messagesAs(h.carol, 'carol-phone').pullMessages({ conversationId: group.groupId, afterSeq: 0 }), Status.NOT_FOUND);
    await rejectsWith(
      h.messagesAs(h.carol, 'carol-phone').sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('let me in') }),
      Status.NOT_FOUND,
    );
    const groupAfter = await f.groupsAs(h.alice).getGroup({ groupId: group.groupId });
    assert.equal(groupAfter.group?.name, 'Hiking club');
    await rejectsWith(carol.getGroup({ groupId: 'not-a-group' }), Status.INVALID_ARGUMENT, /group_id must be a group id/);
  });

  test('a member kicking an admin, or an admin kicking an admin, is PERMISSION_DENIED and changes nothing; the owner can', async () => {
    const [dave] = f.users(1);
    const group = await newGroup(h.alice, [h.bob, h.carol, dave!]);
    await f.groupsAs(h.alice).setMemberRole({ groupId: group.groupId, userId: h.bob, role: GroupRole.GROUP_ROLE_ADMIN });
    await f.groupsAs(h.alice).setMemberRole({ groupId: group.groupId, userId: h.carol, role: GroupRole.GROUP_ROLE_ADMIN });
    const before = await snapshot(group.groupId);

    await rejectsWith(f.groupsAs(dave!).kickMember({ groupId: group.groupId, userId: h.bob }), Status.PERMISSION_DENIED, /your role is a member/);
    await rejectsWith(f.groupsAs(h.carol).kickMember({ groupId: group.groupId, userId: h.bob }), Status.PERMISSION_DENIED, /they are an admin/);
    await rejectsWith(f.groupsAs(h.carol).kickMember({ groupId: group.groupId, userId: h.alice }), Status.PERMISSION_DENIED);
    await rejectsWith(f.groupsAs(dave!).muteMember({ groupId: group.groupId, userId: h.bob, durationSeconds: 60 }), Status.PERMISSION_DENIED);
    await rejectsWith(f.groupsAs(h.bob).dissolveGroup({ groupId: group.groupId }), Status.PERMISSION_DENIED);
    await rejectsWith(f.groupsAs(h.bob).setMemberRole({ groupId: group.groupId, userId: dave!, role: GroupRole.GROUP_ROLE_ADMIN }), Status.PERMISSION_DENIED);
    await rejectsWith(f.groupsAs(dave!).updateGroup({ groupId: group.groupId, name: 'Dave rules' }), Status.PERMISSION_DENIED);
    await rejectsWith(f.groupsAs(h.bob).updateGroup({ groupId: group.groupId, joinPolicy: GroupJoinPolicy.GROUP_JOIN_POLICY_OPEN }), Status.PERMISSION_DENIED);
    await rejectsWith(f.groupsAs(h.alice).leaveGroup({ groupId: group.groupId }), Status.FAILED_PRECONDITION, /transfer ownership/);
    await rejectsWith(f.groupsAs(h.bob).kickMember({ groupId: group.groupId, userId: h.stranger }), Status.FAILED_PRECONDITION, /not a member/);
    await rejectsWith(f.groupsAs(h.alice).kickMember({ groupId: group.groupId, userId: h.alice }), Status.INVALID_ARGUMENT, /LeaveGroup/);
    assert.deepEqual(await snapshot(group.groupId), before);

    await f.groupsAs(h.alice).kickMember({ groupId: group.groupId, userId: h.bob });
    await f.groupsAs(h.carol).kickMember({ groupId: group.groupId, userId: dave! });
    const events = groupEvents(await f.pullAll(h.alice, group.groupId)).slice(-2);
    assert.deepEqual(events, [
      { actorUserId: h.alice, change: { $case: 'kicked', value: { userId: h.bob } } },
      { actorUserId: h.carol, change: { $case: 'kicked', value: { userId: dave } } },
    ]);
  });

  test('a muted member cannot send (PERMISSION_DENIED, nothing stored) until unmuted; mute-all silences members but not admins', async () => {
    const group = await newGroup(h.alice, [h.bob, h.carol]);
    await f.groupsAs(h.alice).setMemberRole({ groupId: group.groupId, userId: h.carol, role: GroupRole.GROUP_ROLE_ADMIN });
    const muted = await f.groupsAs(h.alice).muteMember({ groupId: group.groupId, userId: h.bob, durationSeconds: 600 });
    assert.ok(muted.mutedUntil && muted.mutedUntil.getTime() > Date.now() + 590_000);
    const bob = h.messagesAs(h.bob, 'bob-phone');
    const send = (client: typeof bob, words: string) => client.sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text(words) });
    const before = await h.count('messages', 'conversation_id = $1', [group.groupId]);
    await rejectsWith(send(bob, 'can you hear me'), Status.PERMISSION_DENIED, /You are muted in this group until/);
    assert.equal(await h.count('messages', 'conversation_id = $1', [group.groupId]), before);
    const listed = await f.groupsAs(h.carol).listMembers({ groupId: group.groupId });
    assert.ok(listed.members.find((m) => m.userId === h.bob)?.mutedUntil);

    await f.groupsAs(h.carol).muteMember({ groupId: group.groupId, userId: h.bob, durationSeconds: 0 });
    await send(bob, 'back');

    await f.groupsAs(h.carol).setMuteAll({ groupId: group.groupId, enabled: true });
    const beforeMuteAll = await h.count('messages', 'conversation_id = $1', [group.groupId]);
    await rejectsWith(send(bob, 'and now?'), Status.PERMISSION_DENIED, /mute-all is on/);
    assert.equal(await h.count('messages', 'conversation_id = $1', [group.groupId]), beforeMuteAll);
    await send(h.messagesAs(h.carol, 'carol-phone'), 'admins still speak');
    await send(h.messagesAs(h.alice, 'alice-phone'), 'so does the owner');
    await f.groupsAs(h.alice).setMuteAll({ groupId: group.groupId, enabled: false });
    await send(bob, 'free again');

    assert.deepEqual(eventKinds(await f.pullAll(h.bob, group.groupId)).slice(1), [
      'roleChanged',
      'memberMuted',
      'memberUnmuted',
      'muteAllChanged',
      'muteAllChanged',
    ]);
  });

  test('a kicked member pulls nothing after the kick event, cannot send or read the group, and sync caps the conversation at the kick', async () => {
    const group = await newGroup(h.alice, [h.bob, h.carol]);
    const alice = h.messagesAs(h.alice, 'alice-phone');
    await alice.sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('before the kick') });
    await f.groupsAs(h.alice).kickMember({ groupId: group.groupId, userId: h.carol });
    const afterKick = await alice.sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('after the kick') });

    const carolSees = await f.pullAll(h.carol, group.groupId);
    const kickSeq = carolSees[carolSees.length - 1]!.seq;
    assert.deepEqual(eventKinds(carolSees), ['created', 'kicked']);
    assert.ok(carolSees.every((m) => m.seq < afterKick.seq));
    const carol = h.messagesAs(h.carol, 'carol-phone');
    const later = await carol.pullMessages({ conversationId: group.groupId, afterSeq: kickSeq });
    assert.deepEqual([later.messages.length, later.hasMore], [0, false]);
    await rejectsWith(carol.sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('hello?') }), Status.NOT_FOUND);
    await rejectsWith(f.groupsAs(h.carol).getGroup({ groupId: group.groupId }), Status.NOT_FOUND);
    assert.ok(!(await f.groupsAs(h.carol).listMyGroups({})).groups.some((g) => g.groupId === group.groupId));

    const synced = await syncState(h.carol, group.groupId);
    assert.deepEqual([synced.lastSeq, synced.leftSeq], [kickSeq, kickSeq]);
    assert.equal(synced.lastMessage?.content?.body?.$case, 'groupEvent');
  });

  test('a dissolved group takes no messages or changes (FAILED_PRECONDITION); its history stays pullable up to the dissolution', async () => {
    const group = await newGroup(h.alice, [h.bob]);
    await f.groupsAs(h.alice).dissolveGroup({ groupId: group.groupId });
    const before = await snapshot(group.groupId);
    const bob = h.messagesAs(h.bob, 'bob-phone');
    await rejectsWith(bob.sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('anyone?') }), Status.FAILED_PRECONDITION, /dissolved/);
    await rejectsWith(f.groupsAs(h.alice).updateGroup({ groupId: group.groupId, name: 'Revived' }), Status.FAILED_PRECONDITION, /dissolved/);
    await rejectsWith(f.groupsAs(h.carol).joinGroup({ groupId: group.groupId }), Status.FAILED_PRECONDITION, /dissolved/);
    assert.deepEqual(await snapshot(group.groupId), before);
    assert.deepEqual(eventKinds(await f.pullAll(h.bob, group.groupId)), ['created', 'dissolved']);
    const view = await f.groupsAs(h.bob).getGroup({ groupId: group.groupId });
    assert.ok(view.group?.dissolvedAt);
  });

  test(`the member limit (${MEMBER_LIMIT} here) holds for create, invite, open join and approval: FAILED_PRECONDITION and nobody added`, async () => {
    const extra = f.users(MEMBER_LIMIT);
    await rejectsWith(f.groupsAs(h.alice).createGroup({ name: 'Too big', memberUserIds: extra }), Status.INVALID_ARGUMENT, /at most 5 users/);
    const group = await newGroup(h.alice, extra.slice(0, MEMBER_LIMIT - 2), { joinPolicy: GroupJoinPolicy.GROUP_JOIN_POLICY_OPEN });
    assert.equal(group.memberCount, MEMBER_LIMIT - 1);
    await rejectsWith(
      f.groupsAs(h.alice).inviteMembers({ groupId: group.groupId, userIds: extra.slice(MEMBER_LIMIT - 2) }),
      Status.FAILED_PRECONDITION,
      /at most 6 members; 2 more do not fit/,
    );
    assert.equal(await h.count('group_members', 'group_id = $1', [group.groupId]), MEMBER_LIMIT - 1);
    assert.deepEqual(await f.groupsAs(h.bob).joinGroup({ groupId: group.groupId }), { joined: true });
    await rejectsWith(f.groupsAs(h.carol).joinGroup({ groupId: group.groupId }), Status.FAILED_PRECONDITION, /do not fit/);
    assert.equal(await h.count('group_members', 'group_id = $1', [group.groupId]), MEMBER_LIMIT);
  });

  test('three people racing for the last seat of an open group: exactly one gets in, the others hear FAILED_PRECONDITION', async () => {
    const group = await newGroup(h.alice, f.users(MEMBER_LIMIT - 2), { joinPolicy: GroupJoinPolicy.GROUP_JOIN_POLICY_OPEN });
    const racers = f.users(3);
    const outcomes = await Promise.allSettled(racers.map((userId) => f.groupsAs(userId).joinGroup({ groupId: group.groupId })));
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected', 'rejected']);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') assert.match(String(outcome.reason), /FAILED_PRECONDITION.*do not fit/);
    }
    assert.equal(await h.count('group_members', 'group_id = $1', [group.groupId]), MEMBER_LIMIT);
    const [row] = await h.query<{ member_count: number }>('SELECT member_count FROM core.groups WHERE id = $1', [group.groupId]);
    assert.equal(row!.member_count, MEMBER_LIMIT);
    assert.deepEqual(eventKinds(await f.pullAll(h.alice, group.groupId)), ['created', 'joined']);
  });

  test('joining: an approval group files one request that an admin approves or declines; an open group lets people straight in', async () => {
    const [erin, frank] = f.users(2);
    const group = await newGroup(h.alice, [h.bob]);
    assert.deepEqual(await f.groupsAs(erin!).joinGroup({ groupId: group.groupId, message: 'I hike too' }), { joined: false });
    assert.deepEqual(await f.groupsAs(erin!).joinGroup({ groupId: group.groupId, message: 'please' }), { joined: false });
    await f.groupsAs(frank!).joinGroup({ groupId: group.groupId });
    await rejectsWith(f.groupsAs(h.bob).listJoinRequests({ groupId: group.groupId }), Status.PERMISSION_DENIED);
    const pending = await f.groupsAs(h.alice).listJoinRequests({ groupId: group.groupId });
    assert.deepEqual(pending.requests.map((r) => [r.userId, r.message]), [
      [erin, 'please'],
      [frank, ''],
    ]);
    await rejectsWith(f.groupsAs(erin!).getGroup({ groupId: group.groupId }), Status.NOT_FOUND);
    await f.groupsAs(h.alice).reviewJoinRequest({ groupId: group.groupId, userId: erin!, approve: true });
    await f.groupsAs(h.alice).reviewJoinRequest({ groupId: group.groupId, userId: frank!, approve: false });
    await rejectsWith(f.groupsAs(h.alice).reviewJoinRequest({ groupId: group.groupId, userId: frank!, approve: true }), Status.FAILED_PRECONDITION, /no pending request/);
    assert.equal((await f.groupsAs(erin!).getGroup({ groupId: group.groupId })).group?.myRole, GroupRole.GROUP_ROLE_MEMBER);
    assert.deepEqual(eventKinds(await f.pullAll(h.bob, group.groupId)), ['created', 'joinRequested', 'joinRequested', 'joinApproved', 'joinDeclined']);

    // Only the owner opens the group; then anyone gets in at once.
    await f.groupsAs(h.alice).updateGroup({ groupId: group.groupId, joinPolicy: GroupJoinPolicy.GROUP_JOIN_POLICY_OPEN });
    assert.deepEqual(await f.groupsAs(frank!).joinGroup({ groupId: group.groupId }), { joined: true });
    assert.deepEqual(eventKinds(await f.pullAll(h.bob, group.groupId)).slice(-2), ['settingsChanged', 'joined']);
  });

  test('new members see history from their join on, unless the group shows history; a member who rejoins starts again from the rejoin', async () => {
    const hidden = await newGroup(h.alice, [h.bob]);
    const visible = await newGroup(h.alice, [h.bob], { historyVisibleToNewMembers: true });
    const alice = h.messagesAs(h.alice, 'alice-phone');
    for (const group of [hidden, visible]) {
      await alice.sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('old news') });
      await f.groupsAs(h.alice).inviteMembers({ groupId: group.groupId, userIds: [h.carol] });
    }
    const carolHidden = await f.pullAll(h.carol, hidden.groupId);
    assert.deepEqual(eventKinds(carolHidden), ['invited']);
    assert.equal(carolHidden.length, 1);
    const state = await syncState(h.carol, hidden.groupId);
    assert.equal(state.firstVisibleAfterSeq, carolHidden[0]!.seq - 1);
    assert.equal(state.leftSeq, 0);
    const carolVisible = await f.pullAll(h.carol, visible.groupId);
    assert.deepEqual(carolVisible.map((m) => m.content?.body?.$case), ['groupEvent', 'text', 'groupEvent']);
    assert.equal((await syncState(h.carol, visible.groupId)).firstVisibleAfterSeq, 0);

    await f.groupsAs(h.carol).leaveGroup({ groupId: hidden.groupId });
    await alice.sendMessage({ target: inConversation(hidden.groupId), clientMsgId: randomUUID(), content: text('while carol was away') });
    await f.groupsAs(h.alice).inviteMembers({ groupId: hidden.groupId, userIds: [h.carol] });
    const again = await f.pullAll(h.carol, hidden.groupId);
    assert.deepEqual(eventKinds(again), ['invited']);
    assert.ok(!again.some((m) => m.content?.body?.$case === 'text'));
  });

  test('pushes follow membership: a kicked member gets the kick event and nothing after; a new member gets pushes from the invite on', async () => {
    const [gina] = f.users(1);
    const group = await newGroup(h.alice, [h.bob, h.carol]);
    // The created event was for nobody online: let the relay settle it first.
    await eventually('created event settled', async () => (await h.count('outbox', 'conversation_id = $1', [group.groupId])) === 0);
    await h.online(h.carol, 'carol-live');
    await h.online(gina!, 'gina-live');
    await h.online(h.bob, 'bob-live');
    const alice = h.messagesAs(h.alice, 'alice-phone');
    await f.groupsAs(h.alice).kickMember({ groupId: group.groupId, userId: h.carol });
    await f.groupsAs(h.alice).inviteMembers({ groupId: group.groupId, userIds: [gina!] });
    const last = await alice.sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('welcome gina') });
    const inGroup = (messages: messageV1.Message[]) => messages.filter((m) => m.conversationId === group.groupId);
    await eventually('bob has every message pushed', () => inGroup(h.messagesFor(h.bob, 'bob-live')).some((m) => m.seq === last.seq));
    await eventually('outbox drained', async () => (await h.count('outbox', 'conversation_id = $1', [group.groupId])) === 0);

    assert.deepEqual(eventKinds(inGroup(h.messagesFor(h.carol, 'carol-live'))), ['kicked']);
    assert.ok(!inGroup(h.messagesFor(h.carol, 'carol-live')).some((m) => m.seq > last.seq - 2));
    const ginaGot = inGroup(h.messagesFor(gina!, 'gina-live'));
    assert.deepEqual(ginaGot.map((m) => m.content?.body?.$case), ['groupEvent', 'text']);
    assert.deepEqual(eventKinds(ginaGot), ['invited']);
  });

  test('receipts are not broadcast in a group: an ack pushes nothing to the others; a read reaches only the reader\'s other devices', async () => {
    const group = await newGroup(h.alice, [h.bob, h.carol]);
    await eventually('created event settled', async () => (await h.count('outbox', 'conversation_id = $1', [group.groupId])) === 0);
    await h.online(h.alice, 'alice-watch');
    await h.online(h.carol, 'carol-watch');
    await h.online(h.bob, 'bob-laptop');
    const sent = await h.messagesAs(h.alice, 'alice-phone').sendMessage({ target: inConversation(group.groupId), clientMsgId: randomUUID(), content: text('read me') });
    await h.delivery().reportDelivered({ deliveries: [{ userId: h.bob, deviceId: 'bob-phone', conversationId: group.groupId, seq: sent.seq }] });
    await h.messagesAs(h.bob, 'bob-phone').markRead({ conversationId: group.groupId, seq: sent.seq });
    await eventually('bob\'s laptop got his read receipt', () =>
      h.receiptsFor(h.bob, 'bob-laptop').some((r) => r.conversationId === group.groupId && r.kind === messageV1.ReceiptKind.RECEIPT_KIND_READ),
    );
    const inGroup = (receipts: messageV1.Receipt[]) => receipts.filter((r) => r.conversationId === group.groupId);
    assert.deepEqual(inGroup(h.receiptsFor(h.alice, 'alice-watch')), []);
    assert.deepEqual(inGroup(h.receiptsFor(h.carol, 'carol-watch')), []);
    // The sender still learns who read it, from the watermarks, on request.
    const readers = await h.messagesAs(h.alice, 'alice-phone').getMessageReaders({ messageId: sent.messageId });
    assert.ok(readers.readUserIds.includes(h.bob), JSON.stringify(readers));
  });

  test('a device offline during joins, kicks, renames and role changes rebuilds the final group from sync and pull alone', async () => {
    const [hank, ivy] = f.users(2);
    const group = await newGroup(h.alice, [h.bob, h.carol]);
    // Bob's tablet saw the group up to here, then went offline.
    const seenBefore = (await f.pullAll(h.bob, group.groupId, 'bob-tablet')).length;
    const owner = f.groupsAs(h.alice);
    await owner.inviteMembers({ groupId: group.groupId, userIds: [hank!, ivy!] });
    await owner.kickMember({ groupId: group.groupId, userId: h.carol });
    await owner.updateGroup({ groupId: group.groupId, name: 'Summit team', notice: 'Meet at 7' });
    await owner.setMemberRole({ groupId: group.groupId, userId: hank!, role: GroupRole.GROUP_ROLE_ADMIN });
    await f.groupsAs(ivy!).leaveGroup({ groupId: group.groupId });
    await owner.transferOwnership({ groupId: group.groupId, newOwnerUserId: h.bob });

    // Back online: sync says how far to pull; the events replay into the final state.
    const state = await syncState(h.bob, group.groupId, 'bob-tablet');
    const events = groupEvents(await f.pullAll(h.bob, group.groupId, 'bob-tablet'));
    assert.equal((await f.pullAll(h.bob, group.groupId, 'bob-tablet')).at(-1)?.seq, state.lastSeq);
    const roles = new Map<string, number>();
    let name = '';
    for (const event of events) {
      const change = event.change!;
      switch (change.$case) {
        case 'created':
          name = change.value.name;
          change.value.memberUserIds.forEach((id, i) => roles.set(id, i === 0 ? GroupRole.GROUP_ROLE_OWNER : GroupRole.GROUP_ROLE_MEMBER));
          break;
        case 'invited':
          change.value.userIds.forEach((id) => roles.set(id, GroupRole.GROUP_ROLE_MEMBER));
          break;
        case 'kicked':
        case 'left':
          roles.delete(change.value.userId);
          break;
        case 'renamed':
          name = change.value.name;
          break;
        case 'roleChanged':
          roles.set(change.value.userId, change.value.role);
          break;
        case 'ownerTransferred':
          roles.set(change.value.previousOwnerUserId, GroupRole.GROUP_ROLE_ADMIN);
          roles.set(change.value.newOwnerUserId, GroupRole.GROUP_ROLE_OWNER);
          break;
        default:
          break;
      }
    }
    assert.ok(events.length > seenBefore);
    const server = await f.groupsAs(h.bob).listMembers({ groupId: group.groupId });
    assert.deepEqual(
      [...roles].sort(([a], [b]) => a.localeCompare(b)),
      server.members.map((m) => [m.userId, m.role]).sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
    const final = (await f.groupsAs(h.bob).getGroup({ groupId: group.groupId })).group!;
    assert.deepEqual([name, final.name, final.notice, final.ownerUserId, final.myRole], ['Summit team', 'Summit team', 'Meet at 7', h.bob, GroupRole.GROUP_ROLE_OWNER]);
  });

  test('bad input is INVALID_ARGUMENT and stores nothing; clients cannot send group events themselves', async () => {
    const groupsBefore = await h.count('groups');
    const alice = f.groupsAs(h.alice);
    await rejectsWith(alice.createGroup({ name: '   ', memberUserIds: [] }), Status.INVALID_ARGUMENT, /cannot be empty/);
    await rejectsWith(alice.createGroup({ name: 'x'.repeat(65), memberUserIds: [] }), Status.INVALID_ARGUMENT, /at most 64/);
    await rejectsWith(alice.createGroup({ name: 'ok', memberUserIds: ['nope'] }), Status.INVALID_ARGUMENT, /UUID/);
    await rejectsWith(alice.createGroup({ name: 'ok', memberUserIds: [h.stranger] }), Status.NOT_FOUND, /no user with id/);
    assert.equal(await h.count('groups'), groupsBefore);

    const group = await newGroup(h.alice, [h.bob]);
    const before = await snapshot(group.groupId);
    await rejectsWith(alice.muteMember({ groupId: group.groupId, userId: h.bob, durationSeconds: 31 * 24 * 3600 }), Status.INVALID_ARGUMENT, /30 days/);
    await rejectsWith(alice.updateGroup({ groupId: group.groupId, notice: 'bell\u0007' }), Status.INVALID_ARGUMENT, /control characters/);
    await rejectsWith(alice.setMemberRole({ groupId: group.groupId, userId: h.bob, role: GroupRole.GROUP_ROLE_OWNER }), Status.INVALID_ARGUMENT, /TransferOwnership/);
    await rejectsWith(alice.setGroupAvatar({ groupId: group.groupId, image: Buffer.from('not a picture') }), Status.INVALID_ARGUMENT, /PNG, JPEG or WebP/);
    await rejectsWith(
      h.messagesAs(h.bob, 'bob-phone').sendMessage({
        target: inConversation(group.groupId),
        clientMsgId: randomUUID(),
        content: { body: { $case: 'groupEvent', value: { actorUserId: h.bob, change: { $case: 'dissolved', value: {} } } } },
      }),
      Status.INVALID_ARGUMENT,
      /written by the server/,
    );
    assert.deepEqual(await snapshot(group.groupId), before);
  });

  async function syncState(userId: string, conversationId: string, deviceId = `${userId.slice(0, 8)}-phone`) {
    const client = h.messagesAs(userId, deviceId);
    let pageToken = '';
    for (;;) {
      const page = await client.syncConversations({ pageSize: 500, pageToken });
      const found = page.conversations.find((c) => c.conversationId === conversationId);
      if (found) return found;
      if (!page.nextPageToken) throw new Error(`${conversationId} is not in ${userId}'s sync`);
      pageToken = page.nextPageToken;
    }
  }
});
