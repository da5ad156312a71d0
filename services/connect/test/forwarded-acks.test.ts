// Several connect nodes behind the edge: a browser's Subscribe stream lives on one
// node while the edge spreads its unary Ack RPCs over all of them. An Ack that
// lands on another node is forwarded over the push bus to the node holding the
// stream, where it acks by id and counts as the stream's heartbeat. Two real
// nodes share one presence registry and one push bus here, as they share Redis
// and RabbitMQ in production.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MemoryPushBus, uuidv7 } from '@im-mesh/platform';
import { Metadata, Status } from 'nice-grpc';
import { eventually, messageFrame, openSubscribe, RecordingPresence, startHarness, type Harness } from './support/connect-harness.js';

const HEARTBEAT_MS = 300;

describe('Ack RPCs that reach another node', () => {
  const presence = new RecordingPresence();
  const bus = new MemoryPushBus();
  let nodeA: Harness;
  let nodeB: Harness;
  before(async () => {
    const overrides = { CONNECT_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS), CONNECT_ACK_FLUSH_MS: '50' };
    nodeA = await startHarness(overrides, { presence, bus });
    nodeB = await startHarness(overrides, { presence, bus });
  });
  after(async () => {
    await nodeA.stop();
    await nodeB.stop();
    await presence.close();
    await bus.close();
  });

  test('acks by id sent to node B reach core from node A, and keep A’s Subscribe stream alive past the idle timeout', async () => {
    const token = nodeA.token('user-web', 'device-web');
    const metadata = Metadata({ authorization: `Bearer ${token}` });
    const subscribe = openSubscribe(nodeA, token);
    const { connectionId } = await subscribe.frames.expect('authenticated');
    assert.ok(connectionId.startsWith(`${nodeA.service.nodeId}.`), 'the stream lives on node A');

    const conversationId = uuidv7();
    const frame = messageFrame(conversationId, 3);
    const messageId = frame.kind?.$case === 'message' ? frame.kind.value.messageId : '';
    await nodeA.publish([{ userId: 'user-web', deviceId: 'device-web', connectionId }], frame);
    await subscribe.frames.expect('message');

    // Only node B hears from the client, for well over three heartbeat intervals.
    const started = Date.now();
    const first = await nodeB.client.ack({ connectionId, ack: { messageIds: [messageId], delivered: [] }, ping: true }, { metadata });
    assert.ok(first.serverTimeMs > 0);
    while (Date.now() - started < HEARTBEAT_MS * 5) {
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS / 2));
      await nodeB.client.ack({ connectionId, ack: undefined, ping: true }, { metadata });
    }

    await eventually(() => nodeA.double.reports.flat().some((d) => d.userId === 'user-web'), 2_000, 'report from node A');
    assert.deepEqual(
      nodeA.double.reports.flat().filter((d) => d.userId === 'user-web').map(({ conversationId: c, seq, deviceId }) => ({ c, seq, deviceId })),
      [{ c: conversationId, seq: 3, deviceId: 'device-web' }],
    );
    assert.deepEqual(nodeB.double.reports.flat(), [], 'node B reports nothing of its own');

    // Still open on A: no idle-timeout error, still routable, still receiving pushes.
    assert.equal(subscribe.frames.buffered, 0, 'no frame (such as IDLE_TIMEOUT) arrived on the stream');
    assert.equal((await presence.routeOf('user-web', 'device-web'))?.connectionId, connectionId);
    await nodeA.publish([{ userId: 'user-web', deviceId: 'device-web', connectionId }], messageFrame(conversationId, 4));
    await subscribe.frames.expect('message');

    subscribe.cancel();
    await eventually(async () => (await presence.routeOf('user-web', 'device-web')) === undefined, 1_000, 'route removed after cancel');
  });

  test('without acks reaching it, node A still closes the stream as idle (the forwarding is what keeps it alive)', async () => {
    const token = nodeA.token('user-quiet', 'device-web');
    const subscribe = openSubscribe(nodeA, token);
    await subscribe.frames.expect('authenticated');
    const error = await subscribe.frames.expect('error', HEARTBEAT_MS * 10);
    assert.equal(error.reason, 'IDLE_TIMEOUT');
    subscribe.cancel();
  });

  test('an Ack on node B naming someone else’s connection on node A is NOT_FOUND and changes nothing', async () => {
    const aliceToken = nodeA.token('user-alice', 'device-web');
    const subscribe = openSubscribe(nodeA, aliceToken);
    const { connectionId } = await subscribe.frames.expect('authenticated');
    const conversationId = uuidv7();
    const frame = messageFrame(conversationId, 5);
    const messageId = frame.kind?.$case === 'message' ? frame.kind.value.messageId : '';
    await nodeA.publish([{ userId: 'user-alice', deviceId: 'device-web', connectionId }], frame);
    await subscribe.frames.expect('message');

    const ack = { messageIds: [messageId], delivered: [{ conversationId, seq: 5 }] };
    const asMallory = { metadata: Metadata({ authorization: `Bearer ${nodeB.token('user-mallory', 'device-m')}` }) };
    const asAliceOtherDevice = { metadata: Metadata({ authorization: `Bearer ${nodeB.token('user-alice', 'device-phone')}` }) };
    for (const options of [asMallory, asAliceOtherDevice]) {
      await assert.rejects(
        nodeB.client.ack({ connectionId, ack, ping: true }, options),
        (error: { code: Status; details: string }) => error.code === Status.NOT_FOUND && /No live connection/.test(error.details),
      );
    }
    // An unknown connection of the caller's own is NOT_FOUND too.
    const asAlice = { metadata: Metadata({ authorization: `Bearer ${aliceToken}` }) };
    await assert.rejects(
      nodeB.client.ack({ connectionId: `${nodeA.service.nodeId}.${uuidv7()}`, ack, ping: true }, asAlice),
      (error: { code: Status }) => error.code === Status.NOT_FOUND,
    );
    // A bad ack is refused on B before it travels, as on the node holding the stream.
    await assert.rejects(
      nodeB.client.ack({ connectionId, ack: { messageIds: [], delivered: [{ conversationId: '', seq: 1 }] }, ping: true }, asAlice),
      (error: { code: Status }) => error.code === Status.INVALID_ARGUMENT,
    );

    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(nodeA.double.reports.flat().filter((d) => d.userId === 'user-alice'), [], 'nothing reached core');
    assert.equal(subscribe.frames.buffered, 0, 'the stream saw nothing');
    subscribe.cancel();
  });
});
