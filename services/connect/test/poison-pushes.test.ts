// A push the node can never handle (an undecodable body, or an envelope with
// neither a frame nor a forwarded ack) is rejected, so the bus redelivers it up
// to its delivery limit and then dead-letters it, where an operator can look at
// it, instead of it vanishing after one log line. Pushes behind it still arrive.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { internalV1 } from '@im-mesh/contracts';
import { MemoryPushBus, uuidv7, type PushHandler, type PushSubscription } from '@im-mesh/platform';
import { authenticatedSocket, messageFrame, startHarness, type Harness } from './support/connect-harness.js';

/** The in-process bus, recording what the node's handler made of each push id. */
class RecordingBus extends MemoryPushBus {
  readonly outcomes = new Map<string, Array<'handled' | 'rejected'>>();

  override consume(nodeId: string, handler: PushHandler): Promise<PushSubscription> {
    return super.consume(nodeId, async (message) => {
      const seen = this.outcomes.get(message.id) ?? [];
      this.outcomes.set(message.id, seen);
      try {
        await handler(message);
        seen.push('handled');
      } catch (error) {
        seen.push('rejected');
        throw error;
      }
    });
  }
}

let harness: Harness;
const bus = new RecordingBus(undefined, 3, 100_000, 1);
before(async () => {
  harness = await startHarness({}, { bus });
});
after(async () => {
  await harness.stop();
  await bus.close();
});

test('poison pushes are rejected up to the delivery limit (then dead-lettered by the bus), and the pushes behind them still arrive', async () => {
  const { socket, authenticated } = await authenticatedSocket(harness, 'user-b', 'device-1');
  const undecodable = uuidv7();
  const empty = uuidv7();
  assert.equal(await bus.publish(harness.service.nodeId, { id: undecodable, body: Uint8Array.from([0xff, 0xff, 0xff, 0xff]) }), 'delivered');
  const noFrame = internalV1.PushEnvelope.encode(internalV1.PushEnvelope.fromPartial({})).finish();
  assert.equal(await bus.publish(harness.service.nodeId, { id: empty, body: noFrame }), 'delivered');
  const conversationId = uuidv7();
  const healthy = uuidv7();
  await harness.publish([{ userId: 'user-b', deviceId: 'device-1', connectionId: authenticated.connectionId }], messageFrame(conversationId, 1), healthy);

  const frame = await socket.frames.expect('message');
  assert.equal(frame.seq, 1, 'the push behind the poison ones arrives');
  assert.deepEqual(bus.outcomes.get(undecodable), ['rejected', 'rejected', 'rejected'], 'an undecodable push is rejected on every delivery');
  assert.deepEqual(bus.outcomes.get(empty), ['rejected', 'rejected', 'rejected'], 'an envelope without a frame is rejected on every delivery');
  assert.deepEqual(bus.outcomes.get(healthy), ['handled']);
  socket.close();
});
