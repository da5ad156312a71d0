// Native gRPC (HTTP/2) through the edge, with a nice-grpc client as a native app
// would use: unary and streaming calls reach the right upstream, metadata travels
// both ways, and the edge refuses what it must refuse before any upstream sees it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authV1, connectV1, internalV1, messageV1 } from '@im-mesh/contracts';
import { createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { EDGE_MODES } from './support/edge-modes.js';
import { readThreePongsThenCancel } from './support/read-three-pongs.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { deadAddress, startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();

async function expectStatus(call: Promise<unknown>, status: Status, message?: RegExp): Promise<void> {
  await assert.rejects(call, (error: { code?: Status; details?: string }) => {
    assert.equal(error.code, status, `expected ${Status[status]}, got ${Status[error.code ?? -1]}: ${error.details}`);
    if (message) assert.match(error.details ?? '', message);
    return true;
  });
}

for (const { mode, inProcess, startEdge, servedInProcess } of EDGE_MODES) describe(`native gRPC through the edge, ${mode}`, () => {
  let upstreams: UpstreamDoubles;
  let edge: TestEdge;
  let channel: Channel;

  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    edge = await startEdge(upstreams);
    channel = createChannel(edge.address);
  });
  after(async () => {
    channel.close();
    await edge.stop();
    await upstreams.stop();
  });

  test('a public auth call (GetLoginKey) needs no token and reaches auth', async () => {
    const auth = createClient(authV1.AuthServiceDefinition, channel);
    const key = await auth.getLoginKey({ deviceId: 'phone-1' });
    assert.equal(key.nonce, 'nonce-for-phone-1');
    assert.equal(key.kid, 'login-key-1');
  });

  test('SendMessage with a valid token reaches core; metadata goes up and headers and trailers come back', async () => {
    const messages = createClient(messageV1.MessageServiceDefinition, channel);
    const before = upstreams.calls.sendMessage;
    let echoTag: string | undefined;
    let servedBy: string | undefined;
    const sent = await messages.sendMessage(
      { target: { $case: 'conversationId', value: 'conv-1' }, clientMsgId: 'c-1', content: undefined },
      {
        metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}`, 'x-trace-tag': 'trace-7' }),
        onHeader: (header) => (echoTag = header.get('x-echo-tag')),
        onTrailer: (trailer) => (servedBy = trailer.get('x-served-by')),
      },
    );
    assert.equal(sent.messageId, 'echo-c-1');
    assert.equal(sent.conversationId, 'conv-1');
    assert.equal(upstreams.calls.sendMessage, before + 1);
    assert.equal(echoTag, 'trace-7');
    assert.equal(servedBy, 'core-double');
    assert.equal(upstreams.calls.lastSendMetadata?.get('x-forwarded-for'), '127.0.0.1');
  });

  test('a 1 MB request and a 1.5 MB answer pass through intact', async () => {
    const auth = createClient(authV1.AuthServiceDefinition, channel);
    const deviceId = 'd'.repeat(1_000_000);
    assert.equal((await auth.getLoginKey({ deviceId })).nonce, `nonce-for-${deviceId}`);
    assert.equal((await auth.getLoginKey({ deviceId: 'big-1500000' })).publicKeyPem, 'k'.repeat(1_500_000));
  });

  test('an error status from the upstream reaches the client with its message', async () => {
    const auth = createClient(authV1.AuthServiceDefinition, channel);
    await expectStatus(auth.register({ username: 'alice', deviceId: 'd' }), Status.UNIMPLEMENTED, /not part of this test double/);
  });

  test('the Connect bidi stream needs no header token and echoes pings through the edge', async () => {
    const connect = createClient(connectV1.ConnectServiceDefinition, channel);
    async function* pings() {
      for (let n = 1; n <= 3; n += 1) yield { frame: { kind: { $case: 'ping' as const, value: { clientTimeMs: n } } } };
    }
    const pongs: number[] = [];
    for await (const response of connect.connect(pings())) {
      if (response.frame?.kind?.$case === 'pong') pongs.push(response.frame.kind.value.clientTimeMs);
    }
    assert.deepEqual(pongs, [1, 2, 3]);
  });

  test('Subscribe streams frames as they are produced, and a client cancel reaches connect', async () => {
    const connect = createClient(connectV1.ConnectServiceDefinition, channel);
    const cancelledBefore = upstreams.calls.subscribeCancelled;
    const seen = await readThreePongsThenCancel((request, options) => connect.subscribe(request, options), issuer.accessToken());
    assert.deepEqual(seen, [1, 2, 3]);
    await waitUntil(() => upstreams.calls.subscribeCancelled === cancelledBefore + 1, 'the cancel to reach the connect double');
  });

  test('a protected method without a token, with a garbage, forged, alg-none or expired token is UNAUTHENTICATED and core is never called', async () => {
    const messages = createClient(messageV1.MessageServiceDefinition, channel);
    const before = upstreams.calls.sendMessage;
    const request = { target: { $case: 'conversationId' as const, value: 'conv-1' }, clientMsgId: 'c-2', content: undefined };
    await expectStatus(messages.sendMessage(request), Status.UNAUTHENTICATED, /access token/);
    for (const token of ['not-a-jwt', issuer.forgedToken(), issuer.unsignedToken(), issuer.accessToken({ expiresInSeconds: -60 })]) {
      await expectStatus(
        messages.sendMessage(request, { metadata: Metadata({ authorization: `Bearer ${token}` }) }),
        Status.UNAUTHENTICATED,
        /access token is invalid or expired/,
      );
    }
    const auth = createClient(authV1.AuthServiceDefinition, channel);
    await expectStatus(auth.logout({}), Status.UNAUTHENTICATED);
    assert.equal(upstreams.calls.sendMessage, before);
    assert.equal(upstreams.calls.logout, 0);
  });

  test('im.internal.v1 methods are UNIMPLEMENTED at the edge, even with a valid token', async () => {
    const keys = createClient(internalV1.KeyServiceDefinition, channel);
    await expectStatus(
      keys.getJwks({}, { metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}` }) }),
      Status.UNIMPLEMENTED,
      /internal to the service mesh/,
    );
  });

  test('the token never appears in the edge log', () => {
    const log = edge.logLines.join('');
    assert.ok(!log.includes(issuer.accessToken().split('.')[2]!.slice(0, 20)));
    assert.ok(!/Bearer /.test(log));
  });

  // The forwarded mode has nothing to count: its edge is given no in-process services.
  if (inProcess) test('auth\'s and core\'s unary calls were served in-process', () => {
    assert.ok(servedInProcess.get('/im.auth.v1.AuthService/GetLoginKey'), 'GetLoginKey in-process');
    assert.ok(servedInProcess.get('/im.message.v1.MessageService/SendMessage'), 'SendMessage in-process');
  });
});

describe('native gRPC when an upstream is down', () => {
  test('a call routed to an unreachable core is UNAVAILABLE with a readable message', async () => {
    const upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    const edge = await startTestEdge({ ...upstreams.addresses, core: await deadAddress() });
    const channel = createChannel(edge.address);
    try {
      const messages = createClient(messageV1.MessageServiceDefinition, channel);
      await expectStatus(
        messages.sendMessage(
          { target: { $case: 'toUserId', value: 'user-bob' }, clientMsgId: 'c-3', content: undefined },
          { metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}` }) },
        ),
        Status.UNAVAILABLE,
        /core service is unreachable/,
      );
      // The other upstreams still answer through the same edge.
      const auth = createClient(authV1.AuthServiceDefinition, channel);
      assert.equal((await auth.getLoginKey({ deviceId: 'd' })).nonce, 'nonce-for-d');
    } finally {
      channel.close();
      await edge.stop();
      await upstreams.stop();
    }
  });
});

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
