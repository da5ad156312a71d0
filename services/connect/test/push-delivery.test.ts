// Pushes from the bus reach every kind of client: in order, once each, even when
// the bus delivers an envelope twice; targets that are not (or no longer) this
// node's connection of that device get nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { connectV1, internalV1 } from '@im-mesh/contracts';
import { uuidv7 } from '@im-mesh/platform';
import { authenticatedSocket, messageFrame, openConnect, openSubscribe, startHarness, type Harness } from './support/connect-harness.js';
import type { FrameReader } from './support/frame-reader.js';

async function takeMessages(frames: FrameReader, count: number): Promise<connectV1.ServerFrame[]> {
  const taken: connectV1.ServerFrame[] = [];
  for (let i = 0; i < count; i += 1) taken.push(await frames.next());
  return taken;
}

describe('push delivery', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.stop());

  test('B on WebSocket, gRPC Connect and gRPC Subscribe gets 30 messages in seq order, once each, despite bus duplicates', async () => {
    const ws = await authenticatedSocket(harness, 'user-b', 'device-ws');
    const connect = openConnect(harness, harness.token('user-b', 'device-grpc'));
    const connectAuth = await connect.frames.expect('authenticated');
    const subscribe = openSubscribe(harness, harness.token('user-b', 'device-web'));
    const subscribeAuth = await subscribe.frames.expect('authenticated');
    assert.equal(subscribeAuth.deviceId, 'device-web');

    const targets: internalV1.PushTarget[] = [
      { userId: 'user-b', deviceId: 'device-ws', connectionId: ws.authenticated.connectionId },
      { userId: 'user-b', deviceId: 'device-grpc', connectionId: connectAuth.connectionId },
      { userId: 'user-b', deviceId: 'device-web', connectionId: subscribeAuth.connectionId },
    ];
    const conversationId = uuidv7();
    const count = 30;
    for (let seq = 1; seq <= count; seq += 1) {
      const frame = messageFrame(conversationId, seq);
      const pushId = uuidv7();
      await harness.publish(targets, frame, pushId);
      // At-least-once: every fifth envelope arrives twice, once with a new push id.
      if (seq % 5 === 0) await harness.publish(targets, frame, pushId);
      if (seq % 7 === 0) await harness.publish(targets, frame);
    }
    // A ping after the pushes: its pong proves nothing else was queued before it.
    ws.socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    connect.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });

    for (const [name, frames] of [
      ['websocket', ws.socket.frames],
      ['grpc connect', connect.frames],
      ['grpc subscribe', subscribe.frames],
    ] as const) {
      const received = await takeMessages(frames, count);
      const seqs = received.map((frame) => (frame.kind?.$case === 'message' ? frame.kind.value.seq : -1));
      assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i + 1), `${name} got seqs in order`);
      if (name !== 'grpc subscribe') assert.equal((await frames.next()).kind?.$case, 'pong', `${name}: no duplicate after the last message`);
      else await assert.rejects(frames.next(300), /no frame/, 'subscribe: no duplicate after the last message');
    }
    ws.socket.close();
    connect.cancel();
    subscribe.cancel();
  });

  test('a push for a connection that is gone, or names another user or device, is not written anywhere', async () => {
    const ws = await authenticatedSocket(harness, 'user-c', 'device-c1');
    const connectionId = ws.authenticated.connectionId;
    const conversationId = uuidv7();
    await harness.publish([{ userId: 'user-x', deviceId: 'device-c1', connectionId }], messageFrame(conversationId, 1));
    await harness.publish([{ userId: 'user-c', deviceId: 'device-other', connectionId }], messageFrame(conversationId, 2));
    await harness.publish([{ userId: 'user-c', deviceId: 'device-c1', connectionId: `${harness.service.nodeId}.gone` }], messageFrame(conversationId, 3));
    await harness.publish([{ userId: 'user-c', deviceId: 'device-c1', connectionId }], messageFrame(conversationId, 4));
    const first = await ws.socket.frames.expect('message');
    assert.equal(first.seq, 4);
    ws.socket.close();
  });

  test('receipts are pushed as they come, without message dedupe', async () => {
    const ws = await authenticatedSocket(harness, 'user-d', 'device-d1');
    const target = [{ userId: 'user-d', deviceId: 'device-d1', connectionId: ws.authenticated.connectionId }];
    const receipt: connectV1.ServerFrame = {
      kind: { $case: 'receipt', value: { conversationId: 'conv-r', userId: 'user-e', kind: 1, seq: 3, at: new Date() } },
    };
    await harness.publish(target, receipt);
    await harness.publish(target, receipt);
    assert.equal((await ws.socket.frames.expect('receipt')).seq, 3);
    assert.equal((await ws.socket.frames.expect('receipt')).seq, 3);
    ws.socket.close();
  });
});
