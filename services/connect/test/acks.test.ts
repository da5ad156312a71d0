// Client acks become delivery watermarks for core: batched, coalesced to the
// highest seq per device and conversation, only for messages this connection was
// pushed (or DeliveredUpTo after sync). The Ack RPC only touches the caller's
// own connection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { internalV1 } from '@im-mesh/contracts';
import { uuidv7 } from '@im-mesh/platform';
import { Metadata, Status } from 'nice-grpc';
import { authenticatedSocket, eventually, messageFrame, openSubscribe, startHarness, type Harness } from './support/connect-harness.js';

function reportsFor(harness: Harness, userId: string): internalV1.DeviceDelivery[] {
  return harness.double.reports.flat().filter((delivery) => delivery.userId === userId);
}

describe('acks', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ CONNECT_ACK_FLUSH_MS: '100' });
  });
  after(() => harness.stop());

  test('acks by message id and DeliveredUpTo reach core in one batch with the highest seq per conversation', async () => {
    const { socket, authenticated } = await authenticatedSocket(harness, 'user-a', 'device-a1');
    const target = [{ userId: 'user-a', deviceId: 'device-a1', connectionId: authenticated.connectionId }];
    const pushed = uuidv7();
    const synced = uuidv7();
    const ids: string[] = [];
    for (let seq = 1; seq <= 5; seq += 1) {
      const frame = messageFrame(pushed, seq);
      ids.push(frame.kind?.$case === 'message' ? frame.kind.value.messageId : '');
      await harness.publish(target, frame);
    }
    for (let i = 0; i < 5; i += 1) await socket.frames.expect('message');
    const callsBefore = harness.double.reports.length;

    // Acked out of order and in two frames, plus watermarks for a synced conversation.
    socket.send({ kind: { $case: 'ack', value: { messageIds: [ids[0]!, ids[3]!, ids[1]!], delivered: [{ conversationId: synced, seq: 7 }] } } });
    socket.send({ kind: { $case: 'ack', value: { messageIds: [ids[2]!], delivered: [{ conversationId: synced, seq: 3 }] } } });

    await eventually(() => reportsFor(harness, 'user-a').length >= 2, 2_000, 'reports for user-a');
    await new Promise((resolve) => setTimeout(resolve, 250));
    const deliveries = reportsFor(harness, 'user-a');
    assert.deepEqual(
      deliveries.map(({ conversationId, seq, deviceId }) => ({ conversationId, seq, deviceId })).sort((a, b) => a.conversationId.localeCompare(b.conversationId)),
      [
        { conversationId: pushed, seq: 4, deviceId: 'device-a1' },
        { conversationId: synced, seq: 7, deviceId: 'device-a1' },
      ].sort((a, b) => a.conversationId.localeCompare(b.conversationId)),
    );
    assert.equal(harness.double.reports.length - callsBefore, 1, 'one ReportDelivered call for both frames');
    socket.close();
  });

  test('acks for ids this connection was not pushed (unknown, or another user’s) change nothing', async () => {
    const a = await authenticatedSocket(harness, 'user-x', 'device-x1');
    const b = await authenticatedSocket(harness, 'user-y', 'device-y1');
    const conversationId = uuidv7();
    const frame = messageFrame(conversationId, 1);
    const messageId = frame.kind?.$case === 'message' ? frame.kind.value.messageId : '';
    await harness.publish([{ userId: 'user-x', deviceId: 'device-x1', connectionId: a.authenticated.connectionId }], frame);
    await a.socket.frames.expect('message');

    b.socket.send({ kind: { $case: 'ack', value: { messageIds: [messageId, uuidv7(), 'not-an-id'], delivered: [] } } });
    b.socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    await b.socket.frames.expect('pong');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(reportsFor(harness, 'user-y'), []);

    // The real recipient's ack still counts, once, even if repeated.
    a.socket.send({ kind: { $case: 'ack', value: { messageIds: [messageId, messageId], delivered: [] } } });
    await eventually(() => reportsFor(harness, 'user-x').length > 0, 2_000, 'report for user-x');
    assert.deepEqual(
      reportsFor(harness, 'user-x').map(({ conversationId: c, seq }) => ({ c, seq })),
      [{ c: conversationId, seq: 1 }],
    );
    a.socket.close();
    b.socket.close();
  });

  test('an ack with a bad DeliveredUpTo entry is refused whole with ACK_INVALID and the socket stays open', async () => {
    const { socket } = await authenticatedSocket(harness, 'user-z', 'device-z1');
    socket.send({ kind: { $case: 'ack', value: { messageIds: [], delivered: [{ conversationId: uuidv7(), seq: 4 }, { conversationId: '', seq: 2 }] } } });
    const error = await socket.frames.expect('error');
    assert.equal(error.code, 3);
    assert.equal(error.reason, 'ACK_INVALID');
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 2 } } });
    await socket.frames.expect('pong');
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(reportsFor(harness, 'user-z'), []);
    socket.close();
  });

  test('DeliveredUpTo with NUL or control characters in the conversation id, an id over 128 characters, or seq 0 is refused with ACK_INVALID; other connections are unaffected', async () => {
    const bad = await authenticatedSocket(harness, 'user-n', 'device-n1');
    const good = await authenticatedSocket(harness, 'user-g', 'device-g1');
    const fine = uuidv7();
    const invalid = [
      ...['a\u0000', 'a\u001b[31m', 'tab\there', 'del\u007f', 'c1\u0085', 'x'.repeat(129)].map((conversationId) => ({ conversationId, seq: 1 })),
      { conversationId: fine, seq: 0 },
    ];
    for (const entry of invalid) {
      bad.socket.send({ kind: { $case: 'ack', value: { messageIds: [], delivered: [{ conversationId: fine, seq: 1 }, entry] } } });
      const error = await bad.socket.frames.expect('error');
      assert.deepEqual({ code: error.code, reason: error.reason }, { code: 3, reason: 'ACK_INVALID' }, JSON.stringify(entry));
    }
    // The longest accepted id, and the refusing connection stays usable.
    const longest = 'y'.repeat(128);
    bad.socket.send({ kind: { $case: 'ack', value: { messageIds: [], delivered: [{ conversationId: longest, seq: 2 }] } } });
    good.socket.send({ kind: { $case: 'ack', value: { messageIds: [], delivered: [{ conversationId: fine, seq: 5 }] } } });
    await eventually(() => reportsFor(harness, 'user-n').length > 0 && reportsFor(harness, 'user-g').length > 0, 2_000, 'reports');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(reportsFor(harness, 'user-n').map(({ conversationId, seq }) => ({ conversationId, seq })), [{ conversationId: longest, seq: 2 }]);
    assert.deepEqual(reportsFor(harness, 'user-g').map(({ conversationId, seq }) => ({ conversationId, seq })), [{ conversationId: fine, seq: 5 }]);
    bad.socket.close();
    good.socket.close();
  });

  test('a Subscribe client acks through the Ack RPC; acking someone else’s connection is NOT_FOUND', async () => {
    const aliceToken = harness.token('user-alice', 'device-web');
    const malloryToken = harness.token('user-mallory', 'device-m');
    const subscribe = openSubscribe(harness, aliceToken);
    const { connectionId } = await subscribe.frames.expect('authenticated');
    const conversationId = uuidv7();
    const frame = messageFrame(conversationId, 9);
    const messageId = frame.kind?.$case === 'message' ? frame.kind.value.messageId : '';
    await harness.publish([{ userId: 'user-alice', deviceId: 'device-web', connectionId }], frame);
    await subscribe.frames.expect('message');

    const asMallory = { metadata: Metadata({ authorization: `Bearer ${malloryToken}` }) };
    await assert.rejects(
      harness.client.ack({ connectionId, ack: { messageIds: [messageId], delivered: [] }, ping: true }, asMallory),
      (error: { code: Status; details: string }) => error.code === Status.NOT_FOUND && /No live connection/.test(error.details),
    );
    await assert.rejects(
      harness.client.ack({ connectionId: `${harness.service.nodeId}.${uuidv7()}`, ack: undefined, ping: true }, asMallory),
      (error: { code: Status }) => error.code === Status.NOT_FOUND,
    );
    await assert.rejects(
      harness.client.ack({ connectionId, ack: undefined, ping: true }),
      (error: { code: Status }) => error.code === Status.UNAUTHENTICATED,
    );

    const asAlice = { metadata: Metadata({ authorization: `Bearer ${aliceToken}` }) };
    const response = await harness.client.ack({ connectionId, ack: { messageIds: [messageId], delivered: [] }, ping: false }, asAlice);
    assert.ok(response.serverTimeMs > 0);
    await eventually(() => reportsFor(harness, 'user-alice').length > 0, 2_000, 'report for alice');
    assert.deepEqual(
      reportsFor(harness, 'user-alice').map(({ conversationId: c, seq, deviceId }) => ({ c, seq, deviceId })),
      [{ c: conversationId, seq: 9, deviceId: 'device-web' }],
    );
    assert.deepEqual(reportsFor(harness, 'user-mallory'), []);
    subscribe.cancel();
  });

  test('when core fails, watermarks are kept and reported on a later try', async () => {
    const { socket } = await authenticatedSocket(harness, 'user-r', 'device-r1');
    const conversationId = uuidv7();
    harness.double.failNextReports(2);
    socket.send({ kind: { $case: 'ack', value: { messageIds: [], delivered: [{ conversationId, seq: 11 }] } } });
    await eventually(() => reportsFor(harness, 'user-r').length > 0, 3_000, 'report after retries');
    assert.deepEqual(reportsFor(harness, 'user-r').map(({ seq }) => seq), [11]);
    socket.close();
  });
});
