// The all-in-one's shortcut for unary calls (native gRPC and grpc-web suites run
// in this mode too; see support/edge-modes.ts): what only this path must get
// right. Core's gRPC address is dead here, so a core call that succeeds was served
// in-process and one that says "unreachable" was forwarded.
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { authV1, messageV1 } from '@im-mesh/contracts';
import { createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { deadAddress, startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();

describe('unary calls served in-process by the edge', () => {
  let upstreams: UpstreamDoubles;
  let edge: TestEdge;
  let channel: Channel;
  const send = (clientMsgId: string, options: { signal?: AbortSignal } = {}, via = channel) =>
    createClient(messageV1.MessageServiceDefinition, via).sendMessage(
      { target: { $case: 'conversationId', value: 'conv-1' }, clientMsgId, content: undefined },
      { metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}` }), ...options },
    );

  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    edge = await startTestEdge({ ...upstreams.addresses, core: await deadAddress() }, {}, undefined, { localCalls: upstreams.localCalls });
    channel = createChannel(edge.address);
  });
  after(async () => {
    channel.close();
    await edge.stop();
    await upstreams.stop();
  });

  test('a client that cancels a call in flight cancels the handler running in-process', async () => {
    const cancelledBefore = upstreams.calls.sendCancelled;
    const caller = new AbortController();
    const call = send('hold', { signal: caller.signal });
    for (let waited = 0; upstreams.calls.lastSendMetadata === undefined && waited < 2_000; waited += 10) await sleep(10);
    await sleep(50);
    caller.abort();
    await assert.rejects(call, (error: Error) => error.name === 'AbortError');
    for (let waited = 0; upstreams.calls.sendCancelled === cancelledBefore && waited < 3_000; waited += 10) await sleep(10);
    assert.equal(upstreams.calls.sendCancelled, cancelledBefore + 1);
  });

  test('grpc-timeout reaches the in-process handler: DEADLINE_EXCEEDED, and the handler is cancelled', async () => {
    const cancelledBefore = upstreams.calls.sendCancelled;
    const request = messageV1.SendMessageRequest.encode({ target: { $case: 'conversationId', value: 'conv-1' }, clientMsgId: 'hold', content: undefined }).finish();
    const body = Buffer.alloc(5 + request.length);
    body.writeUInt32BE(request.length, 1);
    body.set(request, 5);
    const session = connect(edge.url);
    try {
      const status = await new Promise<string | undefined>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/im.message.v1.MessageService/SendMessage',
          'content-type': 'application/grpc',
          te: 'trailers',
          authorization: `Bearer ${issuer.accessToken()}`,
          'grpc-timeout': '200m',
        });
        let grpcStatus: string | undefined;
        stream.on('response', (headers) => (grpcStatus ??= headers['grpc-status'] as string | undefined));
        stream.on('trailers', (trailers) => (grpcStatus = trailers['grpc-status'] as string | undefined));
        stream.on('error', reject);
        stream.on('close', () => resolve(grpcStatus));
        stream.resume();
        stream.end(body);
      });
      assert.equal(status, String(Status.DEADLINE_EXCEEDED));
    } finally {
      session.close();
    }
    for (let waited = 0; upstreams.calls.sendCancelled === cancelledBefore && waited < 3_000; waited += 10) await sleep(10);
    assert.equal(upstreams.calls.sendCancelled, cancelledBefore + 1);
  });

  test('a request the client compressed is forwarded over gRPC, whose server decompresses it', async () => {
    const gzip = createChannel(edge.address, undefined, { 'grpc.default_compression_algorithm': 2 });
    try {
      // Auth is reachable over gRPC, so the forwarded call is answered ...
      const auth = createClient(authV1.AuthServiceDefinition, gzip);
      assert.equal((await auth.getLoginKey({ deviceId: 'z'.repeat(2_000) })).nonce, `nonce-for-${'z'.repeat(2_000)}`);
      // ... and core is not: a compressed SendMessage did not take the in-process path.
      await assert.rejects(send('gz-1', {}, gzip), (error: { code?: Status; details?: string }) => {
        assert.equal(error.code, Status.UNAVAILABLE);
        assert.match(error.details ?? '', /core service is unreachable/);
        return true;
      });
      // Uncompressed, the same call is served in-process.
      assert.equal((await send('plain-1')).messageId, 'echo-plain-1');
    } finally {
      gzip.close();
    }
  });
});
