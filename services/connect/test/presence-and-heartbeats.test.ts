// Presence follows connections: a route appears when a device authenticates, is
// refreshed by its heartbeats, moves to the device's newer connection, and goes
// when the connection closes, including by idle timeout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Metadata } from 'nice-grpc';
import { authenticatedSocket, eventually, openSubscribe, startHarness, type Harness } from './support/connect-harness.js';

describe('presence', () => {
  let harness: Harness;
  before(async () => {
    // Heartbeat 1 s: presence TTL 3 s, at most one refresh per second.
    harness = await startHarness({ CONNECT_HEARTBEAT_INTERVAL_MS: '1000' });
  });
  after(() => harness.stop());

  test('a route is registered on auth, refreshed by a ping a heartbeat later, and removed on close', async () => {
    const connectedAt = Date.now();
    const { socket, authenticated } = await authenticatedSocket(harness, 'user-a', 'device-a1');
    const route = await harness.presence.routeOf('user-a', 'device-a1');
    assert.deepEqual(
      { nodeId: route?.nodeId, connectionId: route?.connectionId },
      { nodeId: harness.service.nodeId, connectionId: authenticated.connectionId },
    );
    assert.ok(route!.epoch >= connectedAt * 1000 && route!.epoch < (Date.now() + 1) * 1000, 'epoch is the connection time in µs');

    const refreshes = () => harness.presence.calls.filter((c) => c.op === 'refresh' && c.connectionId === authenticated.connectionId).length;
    // A ping right after auth does not hit the registry: at most one refresh per interval.
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    await socket.frames.expect('pong');
    assert.equal(refreshes(), 0);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 2 } } });
    await socket.frames.expect('pong');
    await eventually(() => refreshes() === 1, 1_000, 'one refresh');

    socket.close();
    await socket.closed;
    await eventually(async () => (await harness.presence.routeOf('user-a', 'device-a1')) === undefined, 1_000, 'route removed');
  });

  test('a newer connection of the same device takes the route and the older one gets GoAway "replaced"', async () => {
    const first = await authenticatedSocket(harness, 'user-b', 'device-b1');
    const second = await authenticatedSocket(harness, 'user-b', 'device-b1');
    const goAway = await first.socket.frames.expect('goAway');
    assert.deepEqual(goAway, { reconnect: false, reconnectAfterMs: 0, reason: 'replaced' });
    assert.equal((await first.socket.closed).code, 1000);
    // The old connection's close must not remove the new route.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await harness.presence.routeOf('user-b', 'device-b1'))?.connectionId, second.authenticated.connectionId);
    second.socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 3 } } });
    await second.socket.frames.expect('pong');
    second.socket.close();
  });

  test('when the device connects to another node, this node’s connection goes away at its next heartbeat', async () => {
    const { socket, authenticated } = await authenticatedSocket(harness, 'user-e', 'device-e1');
    const mine = await harness.presence.routeOf('user-e', 'device-e1');
    // Another node registers a newer connection of the same device.
    const taken = await harness.presence.register(
      { userId: 'user-e', deviceId: 'device-e1', nodeId: 'other-node', connectionId: 'other-node.1', epoch: mine!.epoch + 1 },
      3,
    );
    assert.equal(taken, true);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 4 } } });
    await socket.frames.expect('pong');
    assert.deepEqual(await socket.frames.expect('goAway'), { reconnect: false, reconnectAfterMs: 0, reason: 'replaced' });
    await socket.closed;
    assert.equal((await harness.presence.routeOf('user-e', 'device-e1'))?.connectionId, 'other-node.1', 'the other node keeps the route');
    assert.notEqual(authenticated.connectionId, 'other-node.1');
  });
});

describe('heartbeats', () => {
  let harness: Harness;
  before(async () => {
    // Heartbeat 200 ms: idle timeout after 600 ms of silence, presence TTL 1 s.
    harness = await startHarness({ CONNECT_HEARTBEAT_INTERVAL_MS: '200' });
  });
  after(() => harness.stop());

  test('a silent connection is closed after three heartbeat intervals; a pinging one stays', async () => {
    // Measured from before the silent client's last frame (its auth), so the lower
    // bound cannot be undercut by the time the second client takes to connect.
    const started = Date.now();
    const silent = await authenticatedSocket(harness, 'user-c', 'device-silent');
    const chatty = await authenticatedSocket(harness, 'user-c', 'device-chatty');
    const pinger = setInterval(() => chatty.socket.send({ kind: { $case: 'ping', value: { clientTimeMs: Date.now() } } }), 100);
    try {
      const error = await silent.socket.frames.expect('error', 3_000);
      assert.equal(error.reason, 'IDLE_TIMEOUT');
      assert.equal((await silent.socket.closed).code, 1001);
      const after = Date.now() - started;
      assert.ok(after >= 550 && after < 2_500, `closed after ${after} ms`);
      assert.equal(await harness.presence.routeOf('user-c', 'device-silent'), undefined);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(chatty.socket.ws.readyState, chatty.socket.ws.OPEN, 'the pinging client is still connected');
      assert.ok(await harness.presence.routeOf('user-c', 'device-chatty'), 'and still routable');
    } finally {
      clearInterval(pinger);
      chatty.socket.close();
    }
  });

  test('Ack RPCs keep a Subscribe stream alive past the idle timeout', async () => {
    const token = harness.token('user-d', 'device-web');
    const subscribe = openSubscribe(harness, token);
    const { connectionId } = await subscribe.frames.expect('authenticated');
    const metadata = Metadata({ authorization: `Bearer ${token}` });
    for (let i = 0; i < 8; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 120));
      await harness.client.ack({ connectionId, ack: undefined, ping: true }, { metadata });
    }
    assert.ok(await harness.presence.routeOf('user-d', 'device-web'), 'still routable after ~1 s');
    subscribe.cancel();
    await eventually(async () => (await harness.presence.routeOf('user-d', 'device-web')) === undefined, 1_000, 'route removed after cancel');
  });
});
