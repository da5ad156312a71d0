// Delivered and read receipts: watermarks that only move forward, never past the
// last message, only for members, and pushed to the devices that care.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ClientError, Status } from 'nice-grpc';
import { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, eventually, text, toUser } from './support/core-harness.js';

const { RECEIPT_KIND_DELIVERED: DELIVERED, RECEIPT_KIND_READ: READ } = messageV1.ReceiptKind;

describe('receipts', () => {
  let h: CoreHarness;
  let conversationId: string;

  before(async () => {
    h = await CoreHarness.start();
    await h.online(h.alice, 'alice-phone');
    await h.online(h.alice, 'alice-laptop');
    await h.online(h.bob, 'bob-phone');
    await h.online(h.bob, 'bob-tablet');
    const alice = h.messagesAs(h.alice, 'alice-phone');
    for (let i = 1; i <= 5; i += 1) {
      conversationId = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text(`m${i}`) })).conversationId;
    }
    await eventually('bob-phone got 5 pushes', () => h.messagesFor(h.bob, 'bob-phone').length === 5);
  });
  after(async () => {
    await h.close();
  });

  async function cursor(userId: string, deviceId: string): Promise<number | undefined> {
    const rows = await h.query<{ delivered_seq: number }>(
      'SELECT delivered_seq FROM core.device_cursors WHERE conversation_id = $1 AND user_id = $2 AND device_id = $3',
      [conversationId, userId, deviceId],
    );
    return rows[0]?.delivered_seq;
  }

  test('ReportDelivered moves the device watermark and A\'s devices get a DELIVERED receipt for B', async () => {
    await h.delivery().reportDelivered({ deliveries: [{ userId: h.bob, deviceId: 'bob-phone', conversationId, seq: 3 }] });
    assert.equal(await cursor(h.bob, 'bob-phone'), 3);
    await eventually('alice-phone got the receipt', () => h.receiptsFor(h.alice, 'alice-phone').length === 1);
    const [receipt] = h.receiptsFor(h.alice, 'alice-phone');
    assert.deepEqual(
      { conversationId: receipt!.conversationId, userId: receipt!.userId, kind: receipt!.kind, seq: receipt!.seq },
      { conversationId, userId: h.bob, kind: DELIVERED, seq: 3 },
    );
    assert.ok(receipt!.at instanceof Date);
    await eventually('alice-laptop got it too', () => h.receiptsFor(h.alice, 'alice-laptop').length === 1);
    // The acking user's devices do not hear about their own delivery.
    assert.equal(h.receiptsFor(h.bob, 'bob-tablet').length, 0);
  });

  test('the delivered watermark never moves backwards, and an ack that does not move it sends no receipt', async () => {
    const before = h.receiptsFor(h.alice, 'alice-phone').length;
    await h.delivery().reportDelivered({ deliveries: [{ userId: h.bob, deviceId: 'bob-phone', conversationId, seq: 2 }] });
    await h.delivery().reportDelivered({ deliveries: [{ userId: h.bob, deviceId: 'bob-phone', conversationId, seq: 3 }] });
    assert.equal(await cursor(h.bob, 'bob-phone'), 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(h.receiptsFor(h.alice, 'alice-phone').length, before);
  });

  test('the delivered watermark stops at last_seq, and the highest report of a batch wins', async () => {
    await h.delivery().reportDelivered({
      deliveries: [
        { userId: h.bob, deviceId: 'bob-tablet', conversationId, seq: 4 },
        { userId: h.bob, deviceId: 'bob-tablet', conversationId, seq: 999 },
        { userId: h.bob, deviceId: 'bob-tablet', conversationId, seq: 1 },
      ],
    });
    assert.equal(await cursor(h.bob, 'bob-tablet'), 5);
    await eventually('a DELIVERED receipt at 5', () =>
      h.receiptsFor(h.alice, 'alice-phone').some((r) => r.kind === DELIVERED && r.seq === 5),
    );
  });

  test('reports for conversations the user is not in are ignored, the rest of the batch still counts', async () => {
    await h.delivery().reportDelivered({
      deliveries: [
        { userId: h.carol, deviceId: 'carol-phone', conversationId, seq: 5 },
        { userId: h.bob, deviceId: 'bob-phone', conversationId: 'dm:missing', seq: 5 },
        { userId: 'not-a-uuid', deviceId: 'x', conversationId, seq: 5 },
        { userId: h.bob, deviceId: 'bob-phone', conversationId, seq: 4 },
      ],
    });
    assert.equal(await h.count('device_cursors', 'user_id = $1', [h.carol]), 0);
    assert.equal(await h.count('device_cursors', 'conversation_id = $1', ['dm:missing']), 0);
    assert.equal(await cursor(h.bob, 'bob-phone'), 4);
  });

  test('MarkRead pushes READ to the peer and to the reader\'s other devices, not to the device that read', async () => {
    const bob = h.messagesAs(h.bob, 'bob-phone');
    const answer = await bob.markRead({ conversationId, seq: 4 });
    assert.equal(answer.readSeq, 4);
    const isRead = (r: messageV1.Receipt) => r.kind === READ && r.seq === 4 && r.userId === h.bob && r.conversationId === conversationId;
    await eventually('alice-phone got READ 4', () => h.receiptsFor(h.alice, 'alice-phone').some(isRead));
    await eventually('alice-laptop got READ 4', () => h.receiptsFor(h.alice, 'alice-laptop').some(isRead));
    await eventually('bob-tablet got READ 4', () => h.receiptsFor(h.bob, 'bob-tablet').some(isRead));
    assert.equal(h.receiptsFor(h.bob, 'bob-phone').filter((r) => r.kind === READ).length, 0);
  });

  test('MarkRead never moves backwards and stops at last_seq', async () => {
    const bob = h.messagesAs(h.bob, 'bob-phone');
    assert.equal((await bob.markRead({ conversationId, seq: 2 })).readSeq, 4);
    assert.equal((await bob.markRead({ conversationId, seq: 1_000 })).readSeq, 5);
    const [member] = await h.query<{ read_seq: number }>(
      'SELECT read_seq FROM core.conversation_members WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, h.bob],
    );
    assert.equal(member!.read_seq, 5);
  });

  test('MarkRead on a conversation one is not in is NOT_FOUND', async () => {
    const carol = h.messagesAs(h.carol, 'carol-phone');
    await assert.rejects(carol.markRead({ conversationId, seq: 1 }), (error: unknown) => {
      return error instanceof ClientError && error.code === Status.NOT_FOUND;
    });
  });
});
