// The gRPC transports: Connect authenticates with its first frame within the
// deadline, Subscribe with its bearer metadata; both end with the matching status
// when the client is not who it claims.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClientError, Metadata, Status } from 'nice-grpc';
import { openConnect, openSubscribe, startHarness, type Harness } from './support/connect-harness.js';

function statusOf(error: unknown): Status | undefined {
  return error instanceof ClientError ? error.code : undefined;
}

describe('gRPC Connect and Subscribe', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ CONNECT_AUTH_TIMEOUT_MS: '300', CONNECT_MAX_FRAME_BYTES: '1024' });
  });
  after(() => harness.stop());

  test('Connect: an auth first frame gets Authenticated, then ping gets pong', async () => {
    const call = openConnect(harness, harness.token('user-a', 'device-a1'));
    const authenticated = await call.frames.expect('authenticated');
    assert.equal(authenticated.userId, 'user-a');
    assert.ok(authenticated.connectionId.startsWith(`${harness.service.nodeId}.`));
    call.send({ kind: { $case: 'ping', value: { clientTimeMs: 5 } } });
    assert.equal((await call.frames.expect('pong')).clientTimeMs, 5);
    call.cancel();
  });

  test('Connect: no auth frame within the deadline ends the stream UNAUTHENTICATED', async () => {
    const call = openConnect(harness);
    const error = await call.frames.expect('error', 2_000);
    assert.equal(error.reason, 'AUTH_TIMEOUT');
    assert.equal(statusOf(await call.frames.ended), Status.UNAUTHENTICATED);
  });

  test('Connect: an expired token in the auth frame gets an error frame and UNAUTHENTICATED', async () => {
    const call = openConnect(harness, harness.double.token({ userId: 'user-b', deviceId: 'd', expiresInSeconds: -60 }));
    const error = await call.frames.expect('error');
    assert.equal(error.code, Status.UNAUTHENTICATED);
    const ended = await call.frames.ended;
    assert.equal(statusOf(ended), Status.UNAUTHENTICATED);
    assert.match((ended as ClientError).details, /invalid or expired/);
  });

  test('Connect: a ping before auth ends the stream UNAUTHENTICATED', async () => {
    const call = openConnect(harness);
    call.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    assert.equal((await call.frames.expect('error')).reason, 'AUTH_REQUIRED');
    assert.equal(statusOf(await call.frames.ended), Status.UNAUTHENTICATED);
  });

  test('Subscribe without a token, or with a forged one, fails UNAUTHENTICATED before any frame', async () => {
    const bare = harness.client.subscribe({});
    await assert.rejects(async () => {
      for await (const _ of bare) assert.fail('no frame expected');
    }, (error: unknown) => statusOf(error) === Status.UNAUTHENTICATED);
    const forged = harness.double.forgedToken({ userId: 'user-c', deviceId: 'd' });
    const withForged = harness.client.subscribe({}, { metadata: Metadata({ authorization: `Bearer ${forged}` }) });
    await assert.rejects(async () => {
      for await (const _ of withForged) assert.fail('no frame expected');
    }, (error: unknown) => statusOf(error) === Status.UNAUTHENTICATED);
  });

  test('Subscribe: the first response is Authenticated for the token’s user and device', async () => {
    const call = openSubscribe(harness, harness.token('user-d', 'device-web'));
    const authenticated = await call.frames.expect('authenticated');
    assert.deepEqual([authenticated.userId, authenticated.deviceId], ['user-d', 'device-web']);
    call.cancel();
  });

  test('Connect: a frame over CONNECT_MAX_FRAME_BYTES gets FRAME_TOO_LARGE and ends RESOURCE_EXHAUSTED', async () => {
    const call = openConnect(harness, harness.token('user-e', 'device-e1'));
    await call.frames.expect('authenticated');
    const messageIds = Array.from({ length: 100 }, (_, i) => `0190b7f0-0000-7000-8000-${String(i).padStart(12, '0')}`);
    call.send({ kind: { $case: 'ack', value: { messageIds, delivered: [] } } });
    const error = await call.frames.expect('error');
    assert.equal(error.reason, 'FRAME_TOO_LARGE');
    assert.equal(statusOf(await call.frames.ended), Status.RESOURCE_EXHAUSTED);
  });
});
