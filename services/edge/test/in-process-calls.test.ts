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

  /** A SendMessage by hand over HTTP/2 to the edge, for what a client library would not send. */
  async function rawSend(extraHeaders: Record<string, string>, body: Buffer): Promise<{ status?: string; message?: string }> {
    const session = connect(edge.url);
    try {
      return await new Promise((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/im.message.v1.MessageService/SendMessage',
          'content-type': 'application/grpc',
          te: 'trailers',
          authorization: `Bearer ${issuer.accessToken()}`,
          ...extraHeaders,
        });
        let status: { status?: string; message?: string } = {};
        const read = (headers: Record<string, unknown>) => {
          if (headers['grpc-status'] !== undefined) {
            status = { status: String(headers['grpc-status']), message: decodeURIComponent(String(headers['grpc-message'] ?? '')) };
          }
        };
        stream.on('response', read);
        stream.on('trailers', read);
        stream.on('error', reject);
        stream.on('close', () => resolve(status));
        stream.resume();
        stream.end(body);
      });
    } finally {
      session.close();
    }
  }

  const framed = (clientMsgId: string) => {
    const request = messageV1.SendMessageRequest.encode({ target: { $case: 'conversationId', value: 'conv-1' }, clientMsgId, content: undefined }).finish();
    const body = Buffer.alloc(5 + request.length);
    body.writeUInt32BE(request.length, 1);
    body.set(request, 5);
    return body;
  };

  test('grpc-timeout reaches the in-process handler: DEADLINE_EXCEEDED, and the handler is cancelled', async () => {
    const cancelledBefore = upstreams.calls.sendCancelled;
    const answer = await rawSend({ 'grpc-timeout': '200m' }, framed('hold'));
    assert.equal(answer.status, String(Status.DEADLINE_EXCEEDED));
    for (let waited = 0; upstreams.calls.sendCancelled === cancelledBefore && waited < 3_000; waited += 10) await sleep(10);
    assert.equal(upstreams.calls.sendCancelled, cancelledBefore + 1);
  });

  test('bodies over the service\'s limit get grpc-js\'s answers: a message too large, or more after one that fits', async () => {
    const sent = upstreams.calls.sendMessage;
    const limit = upstreams.localCalls.core.maxMessageBytes;
    const tooLarge = Buffer.alloc(5 + limit + 1);
    tooLarge.writeUInt32BE(limit + 1, 1);
    assert.deepEqual(await rawSend({}, tooLarge), {
      status: String(Status.RESOURCE_EXHAUSTED),
      message: `Received message larger than max (${limit + 1} vs ${limit})`,
    });
    const one = framed('fits');
    const fitsThenMore = Buffer.concat([one, Buffer.alloc(limit + 5 - one.length + 1)]);
    const answer = await rawSend({}, fitsThenMore);
    assert.equal(answer.status, String(Status.UNIMPLEMENTED));
    assert.match(answer.message ?? '', /second request message/);
    assert.equal(upstreams.calls.sendMessage, sent, 'core never saw either');
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
