// WebSocket handshake: who gets a connection, and how a refusal looks before and
// after the upgrade.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authenticatedSocket, startHarness, type Harness } from './support/connect-harness.js';
import { openSocket, refusedStatus } from './support/test-socket.js';

describe('WebSocket handshake', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ CONNECT_AUTH_TIMEOUT_MS: '300', CONNECT_ALLOWED_ORIGINS: 'https://app.example' });
  });
  after(() => harness.stop());

  test('a client with a token in the im.auth subprotocol is authenticated right away and im.v1 is selected', async () => {
    const { socket, authenticated } = await authenticatedSocket(harness, 'user-a', 'device-a1');
    assert.equal(socket.ws.protocol, 'im.v1');
    assert.equal(authenticated.userId, 'user-a');
    assert.equal(authenticated.deviceId, 'device-a1');
    assert.equal(authenticated.heartbeatIntervalMs, 1000);
    assert.ok(authenticated.connectionId.startsWith(`${harness.service.nodeId}.`), authenticated.connectionId);
    socket.close();
    await socket.closed;
  });

  test('a client without a header token authenticates with its first frame', async () => {
    const socket = await openSocket(harness.httpAddress);
    socket.send({ kind: { $case: 'auth', value: { accessToken: harness.token('user-b', 'device-b1') } } });
    const authenticated = await socket.frames.expect('authenticated');
    assert.equal(authenticated.userId, 'user-b');
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 42 } } });
    const pong = await socket.frames.expect('pong');
    assert.equal(pong.clientTimeMs, 42);
    assert.ok(pong.serverTimeMs > 0);
    socket.close();
    await socket.closed;
  });

  test('frames pipelined right behind the auth frame are answered after Authenticated, in order', async () => {
    const socket = await openSocket(harness.httpAddress);
    socket.send({ kind: { $case: 'auth', value: { accessToken: harness.token('user-b', 'device-b2') } } });
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 2 } } });
    await socket.frames.expect('authenticated');
    assert.equal((await socket.frames.expect('pong')).clientTimeMs, 1);
    assert.equal((await socket.frames.expect('pong')).clientTimeMs, 2);
    socket.close();
    await socket.closed;
  });

  test('forged, none-alg, expired and garbage header tokens get HTTP 401 and no socket', async () => {
    const claims = { userId: 'user-c', deviceId: 'device-c1' };
    const tokens = {
      forged: harness.double.forgedToken(claims),
      noneAlg: harness.double.noneAlgToken(claims),
      expired: harness.double.token({ ...claims, expiresInSeconds: -60 }),
      garbage: 'not-a-jwt',
    };
    for (const [name, token] of Object.entries(tokens)) {
      const status = await refusedStatus(harness.httpAddress, { protocols: ['im.v1', `im.auth.${token}`] });
      assert.equal(status, 401, `${name} token`);
    }
    assert.equal(await harness.presence.routeOf('user-c', 'device-c1'), undefined, 'no presence for refused clients');
  });

  test('a bad token in the first frame gets an UNAUTHENTICATED error frame, then close 1008', async () => {
    const socket = await openSocket(harness.httpAddress);
    socket.send({ kind: { $case: 'auth', value: { accessToken: harness.double.noneAlgToken({ userId: 'user-d', deviceId: 'd1' }) } } });
    const error = await socket.frames.expect('error');
    assert.equal(error.code, 16);
    assert.equal(error.reason, 'TOKEN_INVALID');
    assert.match(error.message, /invalid or expired/);
    assert.equal((await socket.closed).code, 1008);
  });

  test('a frame other than auth before authentication is refused and the socket closed', async () => {
    const socket = await openSocket(harness.httpAddress);
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    const error = await socket.frames.expect('error');
    assert.equal(error.code, 16);
    assert.equal(error.reason, 'AUTH_REQUIRED');
    assert.equal((await socket.closed).code, 1008);
  });

  test('a client that never authenticates gets AUTH_TIMEOUT and is closed after the deadline', async () => {
    const started = Date.now();
    const socket = await openSocket(harness.httpAddress);
    const error = await socket.frames.expect('error', 3_000);
    assert.equal(error.code, 16);
    assert.equal(error.reason, 'AUTH_TIMEOUT');
    assert.equal((await socket.closed).code, 1008);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 2_500, `closed after ${waited} ms`);
  });

  test('a token in the URL is refused with 400 even when valid', async () => {
    const token = harness.token('user-e', 'device-e1');
    assert.equal(await refusedStatus(harness.httpAddress, { query: `?access_token=${token}` }), 400);
    assert.equal(await refusedStatus(harness.httpAddress, { query: `?token=${token}` }), 400);
  });

  test('browser origins outside the allow-list get 403; listed origins and native clients connect', async () => {
    assert.equal(await refusedStatus(harness.httpAddress, { headers: { origin: 'https://evil.example' } }), 403);
    const listed = await openSocket(harness.httpAddress, { headers: { origin: 'https://app.example' } });
    const native = await openSocket(harness.httpAddress);
    listed.close();
    native.close();
    await Promise.all([listed.closed, native.closed]);
  });

  test('a client offering only other subprotocols is refused with 400', async () => {
    assert.equal(await refusedStatus(harness.httpAddress, { protocols: ['chat.v9'] }), 400);
  });
});
