// Ended sessions end their connections: auth's revocation over the push bus
// closes exactly the named sessions' connections with GoAway(reconnect=false), a
// token of an ended session cannot open a new connection, and a connection ends
// (GoAway reconnect=true) when its access token expires. Real WebSockets and
// gRPC streams against a real connect node; auth is the test double.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { internalV1 } from '@im-mesh/contracts';
import { Status } from 'nice-grpc';
import { openConnect, startHarness, type Harness } from './support/connect-harness.js';
import { openSocket } from './support/test-socket.js';

describe('ended sessions end their connections', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.stop());

  const socketFor = async (userId: string, deviceId: string, sessionId: string, expiresInSeconds?: number) => {
    const token = harness.double.token({ userId, deviceId, sessionId, expiresInSeconds });
    const socket = await openSocket(harness.httpAddress, { protocols: ['im.v1', `im.auth.${token}`] });
    await socket.frames.expect('authenticated');
    return socket;
  };

  const revoke = async (revocation: internalV1.SessionRevocation) => {
    const body = internalV1.PushEnvelope.encode(internalV1.PushEnvelope.fromPartial({ revocation })).finish();
    assert.equal(await harness.bus.publish(harness.service.nodeId, { id: `revocation-${revocation.reason}`, body }), 'delivered');
  };

  test("a revocation closes the named session's connection with a final GoAway and leaves the user's other devices", async () => {
    const phone = await socketFor('user-r', 'phone', 'session-phone');
    const laptop = await socketFor('user-r', 'laptop', 'session-laptop');
    await revoke({ userId: 'user-r', sessionIds: ['session-phone'], reason: 'logged out', banned: false });

    const goAway = await phone.frames.expect('goAway');
    assert.deepEqual([goAway.reconnect, goAway.reason], [false, 'logged out']);
    assert.equal((await phone.closed).code, 1008);
    assert.equal(await harness.presence.routeOf('user-r', 'phone'), undefined, 'the ended connection kept its route');

    laptop.send({ kind: { $case: 'ping', value: { clientTimeMs: 7 } } });
    assert.equal((await laptop.frames.expect('pong')).clientTimeMs, 7);
    laptop.close();
    await laptop.closed;
  });

  test('a ban closes every connection of the user, on every transport, as PERMISSION_DENIED', async () => {
    const socket = await socketFor('user-b', 'phone', 'session-1');
    const stream = openConnect(harness, harness.double.token({ userId: 'user-b', deviceId: 'desktop', sessionId: 'session-2' }));
    await stream.frames.expect('authenticated');
    const bystander = await socketFor('user-c', 'phone', 'session-3');

    await revoke({ userId: 'user-b', sessionIds: [], reason: 'account banned', banned: true });
    assert.equal((await socket.frames.expect('goAway')).reconnect, false);
    assert.equal((await stream.frames.expect('goAway')).reconnect, false);
    assert.equal((await socket.closed).code, 1008);
    await assert.rejects(stream.frames.next(), /PERMISSION_DENIED: The session ended: account banned/);

    bystander.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    await bystander.frames.expect('pong');
    bystander.close();
  });

  test('a token of a session auth says has ended cannot open a new connection, and leaves no route', async () => {
    harness.double.endSession('session-ended');
    const token = harness.double.token({ userId: 'user-e', deviceId: 'phone', sessionId: 'session-ended' });
    const socket = await openSocket(harness.httpAddress, { protocols: ['im.v1', `im.auth.${token}`] });
    const error = await socket.frames.expect('error');
    assert.equal(error.code, Status.UNAUTHENTICATED);
    assert.equal(error.reason, 'SESSION_REVOKED');
    assert.equal((await socket.closed).code, 1008);
    assert.equal(await harness.presence.routeOf('user-e', 'phone'), undefined);
  });

  test('a connection ends when its access token expires: GoAway with reconnect=true, so the client refreshes and comes back', async () => {
    const socket = await socketFor('user-x', 'phone', 'session-x', 2);
    const goAway = await socket.frames.expect('goAway', 5_000);
    assert.deepEqual([goAway.reconnect, goAway.reason], [true, 'access token expired']);
    assert.equal((await socket.closed).code, 1001);
  });
});
