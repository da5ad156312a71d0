// Slow readers: a client that stops reading while pushes keep coming is cut off
// (WebSocket close 1013, gRPC RESOURCE_EXHAUSTED) instead of growing the node's
// memory, and stops being routable at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectV1 } from '@im-mesh/contracts';
import { uuidv7 } from '@im-mesh/platform';
import { ClientError, Metadata, Status } from 'nice-grpc';
import { authenticatedSocket, eventually, messageFrame, startHarness, type Harness } from './support/connect-harness.js';

/** A message frame carrying about `bytes` of text. */
function bigMessage(conversationId: string, seq: number, bytes: number): connectV1.ServerFrame {
  const frame = messageFrame(conversationId, seq);
  if (frame.kind?.$case === 'message' && frame.kind.value.content?.body?.$case === 'text') {
    frame.kind.value.content.body.value.text = 'x'.repeat(bytes);
  }
  return frame;
}

describe('slow readers', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ CONNECT_MAX_BUFFERED_BYTES: '65536', CONNECT_MAX_STREAM_QUEUE: '8' });
  });
  after(() => harness.stop());

  test('a WebSocket client that stops reading is closed with 1013 and loses its route', async (t) => {
    const { socket, authenticated } = await authenticatedSocket(harness, 'user-a', 'device-a1');
    socket.ws.pause();
    const target = [{ userId: 'user-a', deviceId: 'device-a1', connectionId: authenticated.connectionId }];
    const conversationId = uuidv7();
    // About 24 MB: more than loopback socket buffers hold, so bytes pile up in ws.
    for (let seq = 1; seq <= 400; seq += 1) await harness.publish(target, bigMessage(conversationId, seq, 60_000));
    await eventually(async () => (await harness.presence.routeOf('user-a', 'device-a1')) === undefined, 5_000, 'route removed');
    socket.ws.resume();
    const closed = await socket.closed;
    assert.equal(closed.code, 1013);
    assert.equal(closed.reason, 'slow reader');
    let received = 0;
    while (socket.frames.buffered > 0) if ((await socket.frames.next()).kind?.$case === 'message') received += 1;
    t.diagnostic(`${received} of 400 messages arrived before the close`);
    assert.ok(received < 400, `${received} of 400 messages arrived before the close`);
  });

  test('a gRPC Subscribe client that stops reading ends with RESOURCE_EXHAUSTED once it reads again', async (t) => {
    const token = harness.token('user-b', 'device-web');
    const responses = harness.client.subscribe({}, { metadata: Metadata({ authorization: `Bearer ${token}` }) })[Symbol.asyncIterator]();
    const first = await responses.next();
    assert.equal(first.value?.frame?.kind?.$case, 'authenticated');
    const connectionId = first.value.frame.kind.value.connectionId as string;
    const target = [{ userId: 'user-b', deviceId: 'device-web', connectionId }];
    const conversationId = uuidv7();
    for (let seq = 1; seq <= 400; seq += 1) await harness.publish(target, bigMessage(conversationId, seq, 60_000));
    await eventually(async () => (await harness.presence.routeOf('user-b', 'device-web')) === undefined, 5_000, 'route removed');

    let received = 0;
    const ended = await (async () => {
      try {
        for (;;) {
          const next = await responses.next();
          if (next.done) return undefined;
          received += 1;
        }
      } catch (error) {
        return error;
      }
    })();
    assert.ok(ended instanceof ClientError, `stream ended with ${String(ended)}`);
    assert.equal(ended.code, Status.RESOURCE_EXHAUSTED);
    t.diagnostic(`${received} of 400 frames arrived before the end`);
    assert.ok(received < 400, `${received} of 400 messages arrived before the end`);
  });
});
