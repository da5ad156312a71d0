// System messages from internal teams (im.admin.v1.MessageAdminService) over real
// gRPC against a real PostgreSQL: an admin service account writes a notice to a
// user's system conversation or to a group; it is sequenced, pushed to the live
// devices and synced like any message. Retries are idempotent; users, "service"
// accounts and bad input are refused and store nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { adminV1 } from '@im-mesh/contracts';
import { createChannel, createClient, Metadata, Status, ClientError, type Channel } from 'nice-grpc';
import { CoreHarness, eventually } from './support/core-harness.js';
import { GroupFixture } from './support/group-fixtures.js';

describe('system messages from internal teams', () => {
  let h: CoreHarness;
  let f: GroupFixture;
  const channels: Channel[] = [];
  const adminAs = (token: string | undefined) => {
    const channel = createChannel(h.core.grpcAddress);
    channels.push(channel);
    const metadata = token ? Metadata({ authorization: `Bearer ${token}` }) : Metadata();
    return createClient(adminV1.MessageAdminServiceDefinition, channel, { '*': { metadata } });
  };
  const statusOf = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (error) {
      if (error instanceof ClientError) return error.code;
      throw error;
    }
    throw new Error('expected the call to fail');
  };

  before(async () => {
    h = await CoreHarness.start();
    f = new GroupFixture(h);
  });

  after(async () => {
    for (const channel of channels) channel.close();
    await h?.close();
  });

  test("a notice reaches the user's live device and their sync, once, even when the team retries", async () => {
    const ops = adminAs(h.auth.serviceToken('ops-team', 'admin'));
    await h.online(h.alice, 'alice-phone');
    const request = { target: { $case: 'userId' as const, value: h.alice }, text: 'Your account was verified.', code: 'account.verified', clientMsgId: randomUUID() };
    const sent = await ops.sendSystemMessage(request);
    assert.equal(sent.conversationId, `sys:${h.alice}`);
    assert.equal(sent.duplicate, false);

    await eventually('pushed to the live device', () => h.messagesFor(h.alice, 'alice-phone').some((m) => m.messageId === sent.messageId));
    const pushed = h.messagesFor(h.alice, 'alice-phone').find((m) => m.messageId === sent.messageId)!;
    assert.deepEqual(pushed.content?.body, { $case: 'system', value: { text: 'Your account was verified.', code: 'account.verified' } });

    const retried = await ops.sendSystemMessage(request);
    assert.deepEqual(retried, { ...sent, duplicate: true });
    const synced = await f.pullAll(h.alice, sent.conversationId, 'alice-phone');
    assert.deepEqual(synced.filter((m) => m.content?.body?.$case === 'system').map((m) => m.seq), [sent.seq]);
  });

  test('a notice to a group reaches every member in the group stream, after the earlier events', async () => {
    const ops = adminAs(h.auth.serviceToken('ops-team', 'admin'));
    const { group } = await f.groupsAs(h.alice).createGroup({ name: 'Announcements', memberUserIds: [h.bob, h.carol] });
    const sent = await ops.sendSystemMessage({ target: { $case: 'groupId', value: group!.groupId }, text: 'Maintenance tonight at 02:00 UTC.', code: '', clientMsgId: randomUUID() });
    assert.equal(sent.conversationId, group!.groupId);
    for (const member of [h.alice, h.bob, h.carol]) {
      const messages = await f.pullAll(member, group!.groupId);
      const last = messages[messages.length - 1]!;
      assert.equal(last.messageId, sent.messageId, `${member} did not get the notice last`);
      assert.equal(last.seq, sent.seq);
    }
  });

  test('users, "service" accounts, no token, unknown targets and bad text are refused and store nothing', async () => {
    const before = await h.count('messages');
    const ok = { target: { $case: 'userId' as const, value: h.bob }, text: 'hello', code: '', clientMsgId: randomUUID() };
    assert.equal(await statusOf(adminAs(h.auth.token(h.alice, 'alice-phone')).sendSystemMessage(ok)), Status.PERMISSION_DENIED);
    assert.equal(await statusOf(adminAs(h.auth.serviceToken('core', 'service')).sendSystemMessage(ok)), Status.PERMISSION_DENIED);
    assert.equal(await statusOf(adminAs(undefined).sendSystemMessage(ok)), Status.UNAUTHENTICATED);
    const ops = adminAs(h.auth.serviceToken('ops-team', 'admin'));
    assert.equal(await statusOf(ops.sendSystemMessage({ ...ok, target: { $case: 'userId', value: h.stranger } })), Status.NOT_FOUND);
    assert.equal(await statusOf(ops.sendSystemMessage({ ...ok, target: { $case: 'groupId', value: `sys:${h.bob}` } })), Status.NOT_FOUND);
    assert.equal(await statusOf(ops.sendSystemMessage({ ...ok, target: undefined })), Status.INVALID_ARGUMENT);
    for (const text of ['', '   ', 'x'.repeat(2_001), 'bell\u0007']) {
      assert.equal(await statusOf(ops.sendSystemMessage({ ...ok, text })), Status.INVALID_ARGUMENT, JSON.stringify(text.slice(0, 10)));
    }
    assert.equal(await statusOf(ops.sendSystemMessage({ ...ok, clientMsgId: '' })), Status.INVALID_ARGUMENT);
    assert.equal(await statusOf(ops.sendSystemMessage({ ...ok, code: 'has space' })), Status.INVALID_ARGUMENT);
    assert.equal(await h.count('messages'), before, 'a refused call stored a message');
  });
});
