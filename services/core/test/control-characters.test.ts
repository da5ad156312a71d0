// Ids with NUL or other control characters, or too long, are the caller's
// mistake: every MessageService field answers INVALID_ARGUMENT naming the field
// and changes nothing (PostgreSQL text cannot even hold NUL, so these used to
// surface as INTERNAL). ReportDelivered skips such entries like non-members and
// still applies the rest of the batch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ClientError, Status } from 'nice-grpc';
import type { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, inConversation, text, toUser, type MessageClient } from './support/core-harness.js';

describe('control characters and over-long ids', () => {
  let h: CoreHarness;
  let alice: MessageClient;
  let bob: MessageClient;
  let conversationId: string;

  before(async () => {
    h = await CoreHarness.start();
    alice = h.messagesAs(h.alice, 'alice-phone');
    bob = h.messagesAs(h.bob, 'bob-phone');
    for (let i = 1; i <= 3; i += 1) {
      conversationId = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text(`m${i}`) })).conversationId;
    }
  });
  after(async () => {
    await h.close();
  });

  /** Everything a call could have changed: rows, handed-out outbox ids, seqs and watermarks. */
  async function stored(): Promise<unknown[]> {
    return [
      await h.count('messages'),
      await h.count('conversations'),
      await h.count('conversation_members'),
      await h.count('device_cursors'),
      await h.query('SELECT last_value, is_called FROM core.outbox_id_seq'),
      await h.query('SELECT id, last_seq FROM core.conversations ORDER BY id'),
      await h.query('SELECT conversation_id, user_id, read_seq FROM core.conversation_members ORDER BY 1, 2'),
    ];
  }

  async function invalid(call: () => Promise<unknown>, field: RegExp): Promise<void> {
    const before = await stored();
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof ClientError, String(error));
      assert.equal(error.code, Status.INVALID_ARGUMENT, `${Status[error.code]}: ${error.details}`);
      assert.match(error.details, field);
      return true;
    });
    assert.deepEqual(await stored(), before, 'nothing changed');
  }

  const send = (request: { clientMsgId?: string; target?: messageV1.SendMessageRequest['target']; text?: string }) => () =>
    alice.sendMessage({
      clientMsgId: request.clientMsgId ?? randomUUID(),
      target: request.target ?? inConversation(conversationId),
      content: text(request.text ?? 'hello'),
    });

  test('SendMessage: client_msg_id with NUL or another control character is INVALID_ARGUMENT', async () => {
    await invalid(send({ clientMsgId: 'abc\u0000def' }), /^client_msg_id /);
    await invalid(send({ clientMsgId: '\u0000' }), /^client_msg_id /);
    await invalid(send({ clientMsgId: 'line\nbreak' }), /^client_msg_id /);
    await invalid(send({ clientMsgId: 'del\u007f' }), /^client_msg_id /);
  });

  test('SendMessage: conversation_id with NUL, or longer than 128 characters, is INVALID_ARGUMENT', async () => {
    await invalid(send({ target: inConversation(`${conversationId}\u0000`) }), /^conversation_id /);
    await invalid(send({ target: inConversation('\u0000') }), /^conversation_id /);
    await invalid(send({ target: inConversation('c'.repeat(129)) }), /^conversation_id .*128/);
  });

  test('SendMessage: text containing NUL is INVALID_ARGUMENT; line breaks and tabs are fine', async () => {
    await invalid(send({ text: 'hello\u0000world' }), /^text /);
    const ok = await send({ text: 'two\nlines\tand a tab' })();
    assert.equal(ok.duplicate, false);
  });

  test('PullMessages: conversation_id with NUL is INVALID_ARGUMENT', async () => {
    await invalid(() => bob.pullMessages({ conversationId: `${conversationId}\u0000`, afterSeq: 0 }), /^conversation_id /);
    await invalid(() => bob.pullMessages({ conversationId: 'x'.repeat(129), afterSeq: 0 }), /^conversation_id /);
  });

  test('MarkRead: conversation_id with NUL is INVALID_ARGUMENT and moves no watermark', async () => {
    await invalid(() => bob.markRead({ conversationId: `${conversationId}\u0000`, seq: 2 }), /^conversation_id /);
    await invalid(() => bob.markRead({ conversationId: '\u0000', seq: 2 }), /^conversation_id /);
  });

  test('SyncConversations: a crafted page_token hiding a NUL is INVALID_ARGUMENT', async () => {
    for (const after of ['dm:\u0000', 'x'.repeat(129), 'tab\there']) {
      const pageToken = Buffer.from(JSON.stringify({ after })).toString('base64url');
      await invalid(() => bob.syncConversations({ pageToken }), /^page_token /);
    }
    // A token the server issued still works.
    const first = await alice.syncConversations({ pageSize: 1 });
    assert.equal(first.conversations.length, 1);
  });

  test('ReportDelivered skips entries with bad ids and still moves the good watermarks', async () => {
    await h.delivery().reportDelivered({
      deliveries: [
        { userId: h.bob, deviceId: 'bob-phone', conversationId: `${conversationId}\u0000`, seq: 3 },
        { userId: h.bob, deviceId: 'bob-phone', conversationId, seq: 2 },
        { userId: h.bob, deviceId: 'bob\u0000phone', conversationId, seq: 3 },
        { userId: h.bob, deviceId: 'd'.repeat(129), conversationId, seq: 3 },
        { userId: h.bob, deviceId: 'bob-tablet', conversationId: 'c'.repeat(129), seq: 3 },
        { userId: h.bob, deviceId: 'bob-tablet', conversationId, seq: 3 },
      ],
    });
    const cursors = await h.query<{ device_id: string; delivered_seq: number }>(
      'SELECT device_id, delivered_seq FROM core.device_cursors WHERE conversation_id = $1 AND user_id = $2 ORDER BY device_id',
      [conversationId, h.bob],
    );
    assert.deepEqual(
      cursors.map((c) => [c.device_id, c.delivered_seq]),
      [
        ['bob-phone', 2],
        ['bob-tablet', 3],
      ],
    );
  });
});
