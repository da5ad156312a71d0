// UserService end to end over gRPC: profiles and search, the friend flow with
// its events reaching the other user's devices (pushed when online, pulled by
// sync when not), expiry, the block and stranger matrix of the send path, and
// offline push notices reaching a real local webhook. Refusals change nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientError, Status } from 'nice-grpc';
import { messageV1, userV1 } from '@im-mesh/contracts';
import { verifyWebhookSignature, SIGNATURE_HEADER } from '@im-mesh/platform';
import { CoreHarness, eventually, inConversation, sample, text, toUser, type MessageClient } from './support/core-harness.js';
import { ClientsFor, type UserClient } from './support/file-and-user-clients.js';

const WEBHOOK_SECRET = 'webhook-secret-for-core-tests-123';

function failsWith(code: Status, reason: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, `expected a gRPC error, got ${String(error)}`);
    assert.equal(error.code, code, `${Status[error.code]}: ${error.details}`);
    assert.match(error.details, reason);
    return true;
  };
}

/** A real HTTP endpoint recording what the webhook notifier POSTs. */
async function startWebhook(): Promise<{ url: string; received: Array<{ body: string; signature: string }>; close(): Promise<void> }> {
  const received: Array<{ body: string; signature: string }> = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers[SIGNATURE_HEADER]) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function socialEvents(messages: messageV1.Message[]): userV1.SocialEvent[] {
  return messages.flatMap((m) => (m.content?.body?.$case === 'socialEvent' ? [m.content.body.value] : []));
}

describe('Profiles, friends, blocks and privacy', () => {
  let h: CoreHarness;
  let clients: ClientsFor;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  let users: { alice: UserClient; bob: UserClient; carol: UserClient };

  before(async () => {
    webhook = await startWebhook();
    h = await CoreHarness.start({
      config: { PUSH_NOTIFIER: 'webhook', PUSH_WEBHOOK_URL: webhook.url, PUSH_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
    clients = new ClientsFor(h);
    users = { alice: clients.users(h.alice), bob: clients.users(h.bob), carol: clients.users(h.carol) };
  });
  after(async () => {
    clients.close();
    await h.close();
    await webhook.close();
  });

  /** A new registered user with their own clients. */
  function newUser(): { id: string; users: UserClient; messages: MessageClient } {
    const id = randomUUID();
    h.auth.addUser(id);
    return { id, users: clients.users(id), messages: h.messagesAs(id, `${id}-phone`) };
  }

  async function socialState(): Promise<number[]> {
    return [await h.count('friend_requests'), await h.count('friendships'), await h.count('blocks'), await h.count('messages')];
  }

  test('my profile starts from my username, changes field by field, and others see it; search finds me by username or id', async () => {
    const me = await users.alice.getMe({});
    const username = `user-${h.alice.slice(0, 8)}`;
    assert.deepEqual(me.profile, { userId: h.alice, username, nickname: username, avatarFileId: '', signature: '' });
    assert.deepEqual(me.privacy, { allowStrangerMessages: true, findableByPhone: true });

    await users.alice.updateProfile({ nickname: '  Alice A.  ', signature: 'out hiking\nback monday' });
    const changed = await users.alice.updateProfile({ signature: undefined, nickname: undefined, avatarFileId: undefined });
    assert.deepEqual(changed.profile, { userId: h.alice, username, nickname: 'Alice A.', avatarFileId: '', signature: 'out hiking\nback monday' });

    const seen = await users.bob.getUsers({ userIds: [h.alice, randomUUID()] });
    assert.deepEqual(seen.profiles.map((p) => [p.userId, p.nickname]), [[h.alice, 'Alice A.']]);
    assert.deepEqual((await users.bob.searchUsers({ query: { $case: 'username', value: username.toUpperCase() } })).profiles.map((p) => p.userId), [h.alice]);
    assert.deepEqual((await users.bob.searchUsers({ query: { $case: 'userId', value: h.alice } })).profiles.map((p) => p.nickname), ['Alice A.']);
    assert.deepEqual((await users.bob.searchUsers({ query: { $case: 'username', value: 'nobody-here' } })).profiles, []);
  });

  test('search by verified phone number finds a user until they turn it off; unknown numbers find nobody', async () => {
    const phoneOwner = newUser();
    h.auth.addPhone(phoneOwner.id, '+4915112345678');
    const byPhone = (value: string) => users.bob.searchUsers({ query: { $case: 'phoneNumber', value } });
    assert.deepEqual((await byPhone('+49 151 1234-5678')).profiles.map((p) => p.userId), [phoneOwner.id]);
    assert.deepEqual((await byPhone('+4915100000000')).profiles, []);

    const privacy = await phoneOwner.users.updatePrivacy({ findableByPhone: false });
    assert.deepEqual(privacy.privacy, { allowStrangerMessages: true, findableByPhone: false });
    assert.deepEqual((await byPhone('+4915112345678')).profiles, []);
    // Still found by username: the setting is about the number only.
    assert.equal((await users.bob.searchUsers({ query: { $case: 'userId', value: phoneOwner.id } })).profiles.length, 1);
    await assert.rejects(byPhone('+49'.repeat(20)), failsWith(Status.INVALID_ARGUMENT, /phone_number/));
  });

  test('bad profile input is refused and changes nothing', async () => {
    const before = await users.carol.getMe({});
    await assert.rejects(users.carol.updateProfile({ nickname: '   ' }), failsWith(Status.INVALID_ARGUMENT, /nickname must be/));
    await assert.rejects(users.carol.updateProfile({ nickname: 'x'.repeat(65) }), failsWith(Status.INVALID_ARGUMENT, /nickname must be/));
    await assert.rejects(users.carol.updateProfile({ signature: 'bell\u0007' }), failsWith(Status.INVALID_ARGUMENT, /signature/));
    await assert.rejects(users.carol.updateProfile({ avatarFileId: randomUUID() }), failsWith(Status.FAILED_PRECONDITION, /completed upload of yours/));
    await assert.rejects(users.carol.getUsers({ userIds: ['not-a-uuid'] }), failsWith(Status.INVALID_ARGUMENT, /user id/));
    assert.deepEqual(await users.carol.getMe({}), before);
  });

  test('a friend request reaches the other user as a sequenced event, pushed live and pulled after being offline; accepting tells the sender', async () => {
    const dana = newUser();
    const eli = newUser();
    await h.online(eli.id, `${eli.id}-phone`);

    const sent = await dana.users.sendFriendRequest({ toUserId: eli.id, message: 'we met at the meetup' });
    assert.equal(sent.becameFriends, false);
    let request = sent.request!;
    assert.deepEqual([request.fromUserId, request.toUserId, request.message], [dana.id, eli.id, 'we met at the meetup']);
    assert.ok(request.expiresAt!.getTime() - request.createdAt!.getTime() >= 7 * 24 * 3600 * 1000 - 1000);

    // Live: Eli's online device gets the event pushed, in Eli's system conversation.
    await eventually('the request event pushed to eli', () => socialEvents(h.messagesFor(eli.id, `${eli.id}-phone`)).length === 1);
    const pushed = h.messagesFor(eli.id, `${eli.id}-phone`)[0]!;
    assert.equal(pushed.conversationId, `sys:${eli.id}`);
    assert.equal(pushed.seq, 1);
    assert.equal(pushed.senderId, dana.id);
    assert.deepEqual(socialEvents([pushed])[0]?.kind, { $case: 'friendRequestReceived', value: request });

    // Asking again at once updates the note but announces nothing new.
    const again = (await dana.users.sendFriendRequest({ toUserId: eli.id, message: 'we met at the meetup!' })).request!;
    assert.equal(again.requestId, request.requestId);
    const eliSystem = await eli.messages.pullMessages({ conversationId: `sys:${eli.id}`, afterSeq: 0, limit: 50, beforeSeq: 0 });
    assert.equal(eliSystem.messages.length, 1);
    // (The note is set back; the expiry moved on.)
    request = (await dana.users.sendFriendRequest({ toUserId: eli.id, message: 'we met at the meetup' })).request!;
    assert.equal(request.requestId, again.requestId);

    // Listing, from both sides.
    assert.deepEqual((await eli.users.listFriendRequests({ direction: userV1.FriendRequestDirection.FRIEND_REQUEST_DIRECTION_INCOMING })).requests, [request]);
    assert.deepEqual((await dana.users.listFriendRequests({ direction: userV1.FriendRequestDirection.FRIEND_REQUEST_DIRECTION_OUTGOING })).requests, [request]);
    assert.deepEqual((await dana.users.listFriendRequests({ direction: userV1.FriendRequestDirection.FRIEND_REQUEST_DIRECTION_INCOMING })).requests, []);

    // Dana was offline: the acceptance is in her system conversation when she syncs.
    const accepted = await eli.users.acceptFriendRequest({ requestId: request.requestId });
    assert.equal(accepted.friend?.userId, dana.id);
    const synced = await dana.messages.syncConversations({ pageSize: 50, pageToken: '' });
    const system = synced.conversations.find((c) => c.conversationId === `sys:${dana.id}`);
    assert.equal(system?.type, messageV1.ConversationType.CONVERSATION_TYPE_SYSTEM);
    const pulled = await dana.messages.pullMessages({ conversationId: `sys:${dana.id}`, afterSeq: 0, limit: 50, beforeSeq: 0 });
    assert.deepEqual(socialEvents(pulled.messages).map((e) => e.kind), [{ $case: 'friendRequestAccepted', value: request }]);

    assert.deepEqual((await dana.users.listFriends({})).friends.map((f) => f.userId), [eli.id]);
    assert.deepEqual((await eli.users.listFriends({})).friends.map((f) => f.userId), [dana.id]);
    assert.deepEqual((await eli.users.listFriendRequests({ direction: 0 })).requests, []);

    // Remarks are private to each side; removing ends the friendship for both.
    assert.equal((await dana.users.setFriendRemark({ userId: eli.id, remark: 'Eli from the meetup' })).friend?.remark, 'Eli from the meetup');
    assert.deepEqual((await eli.users.listFriends({})).friends.map((f) => f.remark), ['']);
    await assert.rejects(dana.users.sendFriendRequest({ toUserId: eli.id, message: '' }), failsWith(Status.ALREADY_EXISTS, /already friends/));
    await eli.users.removeFriend({ userId: dana.id });
    assert.deepEqual((await dana.users.listFriends({})).friends, []);
    await assert.rejects(dana.users.setFriendRemark({ userId: eli.id, remark: 'x' }), failsWith(Status.NOT_FOUND, /not your friend/));
  });

  test('asking someone who already asked you makes you friends at once; declining tells nobody; expired requests cannot be accepted', async () => {
    const [a, b, c] = [newUser(), newUser(), newUser()];
    await a.users.sendFriendRequest({ toUserId: b.id, message: '' });
    const back = await b.users.sendFriendRequest({ toUserId: a.id, message: '' });
    assert.equal(back.becameFriends, true);
    assert.deepEqual((await a.users.listFriends({})).friends.map((f) => f.userId), [b.id]);

    const declined = (await c.users.sendFriendRequest({ toUserId: a.id, message: 'hi' })).request!;
    await a.users.declineFriendRequest({ requestId: declined.requestId });
    const cEvents = await c.messages.pullMessages({ conversationId: `sys:${c.id}`, afterSeq: 0, limit: 50, beforeSeq: 0 }).catch(() => ({ messages: [] }));
    assert.equal(cEvents.messages.length, 0, 'the sender of a declined request is not told');
    await assert.rejects(a.users.acceptFriendRequest({ requestId: declined.requestId }), failsWith(Status.NOT_FOUND, /no pending friend request/));

    const stale = (await c.users.sendFriendRequest({ toUserId: b.id, message: '' })).request!;
    await h.query(`UPDATE core.friend_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, [stale.requestId]);
    const before = await socialState();
    await assert.rejects(b.users.acceptFriendRequest({ requestId: stale.requestId }), failsWith(Status.NOT_FOUND, /may have expired/));
    assert.deepEqual(await socialState(), before);
    assert.deepEqual((await b.users.listFriendRequests({ direction: 0 })).requests, []);
    // Asking again renews the expired request.
    const renewed = (await c.users.sendFriendRequest({ toUserId: b.id, message: 'again' })).request!;
    assert.equal(renewed.requestId, stale.requestId);
    assert.ok(renewed.expiresAt!.getTime() > Date.now());
  });

  test('bad friend requests are refused and change nothing', async () => {
    const before = await socialState();
    await assert.rejects(users.alice.sendFriendRequest({ toUserId: h.alice, message: '' }), failsWith(Status.INVALID_ARGUMENT, /yourself/));
    await assert.rejects(users.alice.sendFriendRequest({ toUserId: h.stranger, message: '' }), failsWith(Status.NOT_FOUND, /no user/));
    await assert.rejects(users.alice.sendFriendRequest({ toUserId: h.bob, message: 'x'.repeat(201) }), failsWith(Status.INVALID_ARGUMENT, /at most 200/));
    await assert.rejects(users.alice.acceptFriendRequest({ requestId: randomUUID() }), failsWith(Status.NOT_FOUND, /no pending/));
    await assert.rejects(users.alice.blockUser({ userId: h.alice }), failsWith(Status.INVALID_ARGUMENT, /yourself/));
    assert.deepEqual(await socialState(), before);
  });

  test('block and stranger matrix: who may send a direct message to whom', async () => {
    const [owner, friend, stranger] = [newUser(), newUser(), newUser()];
    await friend.users.sendFriendRequest({ toUserId: owner.id, message: '' });
    await owner.users.sendFriendRequest({ toUserId: friend.id, message: '' });
    const send = (from: { messages: MessageClient }, to: string) =>
      from.messages.sendMessage({ target: toUser(to), clientMsgId: randomUUID(), content: text('hello') });

    // Defaults: everyone may write.
    await send(stranger, owner.id);
    await send(friend, owner.id);

    // Strangers refused, friends still welcome; the refused send stores nothing.
    await owner.users.updatePrivacy({ allowStrangerMessages: false });
    assert.deepEqual((await owner.users.getMe({})).privacy, { allowStrangerMessages: false, findableByPhone: true });
    let before = await socialState();
    await assert.rejects(send(stranger, owner.id), failsWith(Status.PERMISSION_DENIED, /friends only/));
    // Also through the conversation id of their existing direct conversation.
    const existing = `dm:${[owner.id, stranger.id].sort().join(':')}`;
    await assert.rejects(
      stranger.messages.sendMessage({ target: inConversation(existing), clientMsgId: randomUUID(), content: text('again') }),
      failsWith(Status.PERMISSION_DENIED, /friends only/),
    );
    assert.deepEqual(await socialState(), before);
    await send(friend, owner.id);
    // The owner may still write to the stranger (their setting is their own).
    await send(owner, stranger.id);

    // A blocked friend is refused too, with PERMISSION_DENIED; the block list shows them.
    await owner.users.blockUser({ userId: friend.id });
    await owner.users.blockUser({ userId: friend.id });
    assert.deepEqual((await owner.users.listBlockedUsers({})).users.map((u) => u.userId), [friend.id]);
    before = await socialState();
    await assert.rejects(send(friend, owner.id), failsWith(Status.PERMISSION_DENIED, /does not accept messages from you/));
    await assert.rejects(friend.users.sendFriendRequest({ toUserId: owner.id, message: '' }), failsWith(Status.PERMISSION_DENIED, /does not accept friend requests/));
    assert.deepEqual(await socialState(), before);

    // Unblocking restores it; opening the setting lets strangers in again.
    await owner.users.unblockUser({ userId: friend.id });
    await send(friend, owner.id);
    await owner.users.updatePrivacy({ allowStrangerMessages: true });
    await send(stranger, owner.id);
  });

  test('a blocked user cannot send friend requests, and blocking declines the one they sent', async () => {
    const [owner, pest] = [newUser(), newUser()];
    const pending = (await pest.users.sendFriendRequest({ toUserId: owner.id, message: 'hey' })).request!;
    await owner.users.blockUser({ userId: pest.id });
    assert.deepEqual((await owner.users.listFriendRequests({ direction: 0 })).requests, []);
    await assert.rejects(owner.users.acceptFriendRequest({ requestId: pending.requestId }), failsWith(Status.NOT_FOUND, /no pending/));
    await assert.rejects(pest.users.sendFriendRequest({ toUserId: owner.id, message: '' }), failsWith(Status.PERMISSION_DENIED, /does not accept friend requests/));
    await assert.rejects(owner.users.sendFriendRequest({ toUserId: pest.id, message: '' }), failsWith(Status.FAILED_PRECONDITION, /Unblock them first/));
  });

  test('nobody can write into a system conversation, not even its owner', async () => {
    const dana = newUser();
    await users.bob.sendFriendRequest({ toUserId: dana.id, message: '' });
    const before = await h.count('messages');
    await assert.rejects(
      dana.messages.sendMessage({ target: inConversation(`sys:${dana.id}`), clientMsgId: randomUUID(), content: text('spoof') }),
      failsWith(Status.PERMISSION_DENIED, /written by the server only/),
    );
    assert.equal(await h.count('messages'), before);
  });

  test('a message to a user with no live device reaches the push webhook, signed, with ids and kind but no text', async () => {
    const [sender, sleeper] = [newUser(), newUser()];
    const sent = await sender.messages.sendMessage({ target: toUser(sleeper.id), clientMsgId: randomUUID(), content: text('the secret is 42') });
    await eventually('the offline notice at the webhook', () => webhook.received.some((r) => r.body.includes(sent.messageId)));
    const notice = webhook.received.find((r) => r.body.includes(sent.messageId))!;
    assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, notice.signature, notice.body), true);
    const payload = JSON.parse(notice.body) as Record<string, unknown>;
    assert.deepEqual(payload, {
      type: 'message.offline',
      messageId: sent.messageId,
      conversationId: sent.conversationId,
      seq: 1,
      senderId: sender.id,
      recipientIds: [sleeper.id],
      kind: 'text',
      sentAt: payload.sentAt,
    });
    assert.equal(notice.body.includes('secret is 42'), false);
    await eventually('the delivered notice counted', async () => sample(await h.scrape(), 'core_offline_notices_total', { outcome: 'delivered' }) >= 1);

    // A recipient with a live device gets a push, not a notice.
    await h.online(sleeper.id, `${sleeper.id}-phone`);
    const live = await sender.messages.sendMessage({ target: toUser(sleeper.id), clientMsgId: randomUUID(), content: text('awake?') });
    await eventually('the live push', () => h.messagesFor(sleeper.id, `${sleeper.id}-phone`).some((m) => m.messageId === live.messageId));
    assert.equal(webhook.received.some((r) => r.body.includes(live.messageId)), false);
  });
});
