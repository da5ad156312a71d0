// grpc-web through the edge, as a browser app would call it: binary with the real
// nice-grpc-web client (FetchTransport), text with a hand-written fetch, plus the
// CORS answers a browser needs before it lets the app read anything.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authV1, connectV1, internalV1, messageV1 } from '@im-mesh/contracts';
import { Status } from 'nice-grpc';
import { createChannel, createClient, FetchTransport, Metadata } from 'nice-grpc-web';
import { EDGE_MODES } from './support/edge-modes.js';
import { readThreePongsThenCancel } from './support/read-three-pongs.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, type TestEdge } from './support/test-edge.js';
import { startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();
const APP_ORIGIN = 'https://app.example.test';

async function expectStatus(call: Promise<unknown>, status: Status, message?: RegExp): Promise<void> {
  await assert.rejects(call, (error: { code?: Status; details?: string }) => {
    assert.equal(error.code, status, `expected ${Status[status]}, got ${Status[error.code ?? -1]}: ${error.details}`);
    if (message) assert.match(error.details ?? '', message);
    return true;
  });
}

/** One gRPC message frame: flag 0, 4-byte big-endian length, the message. */
function messageFrame(bytes: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + bytes.length);
  frame.writeUInt32BE(bytes.length, 1);
  Buffer.from(bytes).copy(frame, 5);
  return frame;
}

/** Splits a decoded grpc-web body into messages and the trailer frame's key/values. */
function parseGrpcWebBody(body: Buffer): { messages: Buffer[]; trailers: Record<string, string> } {
  const messages: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length) {
    const flag = body[offset]!;
    const length = body.readUInt32BE(offset + 1);
    const payload = body.subarray(offset + 5, offset + 5 + length);
    offset += 5 + length;
    if (flag & 0x80) {
      for (const line of payload.toString('utf8').split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        trailers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      }
    } else messages.push(Buffer.from(payload));
  }
  return { messages, trailers };
}

/** grpc-web-text responses may be several padded base64 chunks back to back. */
function decodeTextBody(text: string): Buffer {
  return Buffer.concat(text.split(/(?<==)(?=[^=])/).map((chunk) => Buffer.from(chunk, 'base64')));
}

for (const { mode, inProcess, startEdge, servedInProcess } of EDGE_MODES) describe(`grpc-web through the edge, ${mode}`, () => {
  let upstreams: UpstreamDoubles;
  let edge: TestEdge;

  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    edge = await startEdge(upstreams);
  });
  after(async () => {
    await edge.stop();
    await upstreams.stop();
  });

  test('nice-grpc-web unary: GetLoginKey without a token, SendMessage with one (metadata both ways)', async () => {
    const channel = createChannel(edge.url, FetchTransport());
    const auth = createClient(authV1.AuthServiceDefinition, channel);
    assert.equal((await auth.getLoginKey({ deviceId: 'browser-1' })).nonce, 'nonce-for-browser-1');

    const messages = createClient(messageV1.MessageServiceDefinition, channel);
    let echoTag: string | undefined;
    let servedBy: string | undefined;
    const sent = await messages.sendMessage(
      { target: { $case: 'conversationId', value: 'conv-web' }, clientMsgId: 'w-1', content: undefined },
      {
        metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}`, 'x-trace-tag': 'web-7' }),
        onHeader: (header) => (echoTag = header.get('x-echo-tag')),
        onTrailer: (trailer) => (servedBy = trailer.get('x-served-by')),
      },
    );
    assert.equal(sent.messageId, 'echo-w-1');
    assert.equal(echoTag, 'web-7');
    assert.equal(servedBy, 'core-double');
  });

  test('nice-grpc-web server streaming: Subscribe delivers each frame while the stream stays open, and cancel reaches connect', async () => {
    const channel = createChannel(edge.url, FetchTransport());
    const connect = createClient(connectV1.ConnectServiceDefinition, channel);
    const cancelledBefore = upstreams.calls.subscribeCancelled;
    const seen = await readThreePongsThenCancel((request, options) => connect.subscribe(request, options), issuer.accessToken());
    assert.deepEqual(seen, [1, 2, 3]);
    const deadline = Date.now() + 3_000;
    while (upstreams.calls.subscribeCancelled === cancelledBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(upstreams.calls.subscribeCancelled, cancelledBefore + 1, 'the browser going away cancels the upstream stream');
  });

  test('grpc-web-text by hand: request in two base64 chunks, response messages and trailer frame decoded', async () => {
    const request = messageFrame(authV1.GetLoginKeyRequest.encode({ deviceId: 'text-device' }).finish());
    // Split so the first chunk needs padding: two separately padded base64 chunks, as streaming clients send.
    const body = request.subarray(0, 4).toString('base64') + request.subarray(4).toString('base64');
    assert.ok(body.indexOf('=') < body.length - 4, 'the request really has padding in the middle');
    const response = await fetch(`${edge.url}/im.auth.v1.AuthService/GetLoginKey`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text', accept: 'application/grpc-web-text', 'x-grpc-web': '1', origin: APP_ORIGIN },
      body,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/grpc-web-text');
    assert.equal(response.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /grpc-status.*grpc-message/);
    const { messages, trailers } = parseGrpcWebBody(decodeTextBody(await response.text()));
    assert.equal(messages.length, 1);
    assert.equal(authV1.GetLoginKeyResponse.decode(messages[0]!).nonce, 'nonce-for-text-device');
    assert.equal(trailers['grpc-status'], '0');
  });

  test('large answers pass intact: 1 MB binary through nice-grpc-web, 300 kB as several base64 chunks in text mode', async () => {
    const auth = createClient(authV1.AuthServiceDefinition, createChannel(edge.url, FetchTransport()));
    assert.equal((await auth.getLoginKey({ deviceId: 'big-1000000' })).publicKeyPem, 'k'.repeat(1_000_000));

    const response = await fetch(`${edge.url}/im.auth.v1.AuthService/GetLoginKey`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text' },
      body: messageFrame(authV1.GetLoginKeyRequest.encode({ deviceId: 'big-300000' }).finish()).toString('base64'),
    });
    const { messages, trailers } = parseGrpcWebBody(decodeTextBody(await response.text()));
    assert.equal(authV1.GetLoginKeyResponse.decode(messages[0]!).publicKeyPem.length, 300_000);
    assert.equal(trailers['grpc-status'], '0');
  });

  test('grpc-web-text server streaming by hand: three Subscribe frames arrive before the stream ends', async () => {
    const response = await fetch(`${edge.url}/im.connect.v1.ConnectService/Subscribe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/grpc-web-text+proto',
        'x-grpc-web': '1',
        authorization: `Bearer ${issuer.accessToken()}`,
      },
      body: messageFrame(connectV1.SubscribeRequest.encode({}).finish()).toString('base64'),
    });
    assert.equal(response.headers.get('content-type'), 'application/grpc-web-text+proto');
    const reader = response.body!.getReader();
    let text = '';
    let frames: Buffer[] = [];
    while (frames.length < 3) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream must stay open while frames are read');
      text += Buffer.from(value).toString('latin1');
      frames = parseGrpcWebBody(decodeTextBody(text)).messages;
    }
    await reader.cancel();
    assert.deepEqual(
      frames.map((frame) => connectV1.SubscribeResponse.decode(frame).frame?.kind),
      [1, 2, 3].map((n) => ({ $case: 'pong', value: { clientTimeMs: n, serverTimeMs: n } })),
    );
  });

  test('a protected call without a token or with an alg-none token gets UNAUTHENTICATED in the trailer frame; core is not called', async () => {
    const before = upstreams.calls.sendMessage;
    const channel = createChannel(edge.url, FetchTransport());
    const messages = createClient(messageV1.MessageServiceDefinition, channel);
    const request = { target: { $case: 'toUserId' as const, value: 'user-bob' }, clientMsgId: 'w-2', content: undefined };
    await expectStatus(messages.sendMessage(request), Status.UNAUTHENTICATED, /access token/);
    await expectStatus(
      messages.sendMessage(request, { metadata: Metadata({ authorization: `Bearer ${issuer.unsignedToken()}` }) }),
      Status.UNAUTHENTICATED,
    );

    const raw = await fetch(`${edge.url}/im.message.v1.MessageService/SendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: 'Bearer forged.token.here' },
      body: messageFrame(messageV1.SendMessageRequest.encode(request).finish()),
    });
    assert.equal(raw.status, 200);
    const { messages: none, trailers } = parseGrpcWebBody(Buffer.from(await raw.arrayBuffer()));
    assert.equal(none.length, 0);
    assert.equal(trailers['grpc-status'], String(Status.UNAUTHENTICATED));
    assert.match(decodeURIComponent(trailers['grpc-message'] ?? ''), /access token is invalid or expired/);
    assert.equal(upstreams.calls.sendMessage, before);
  });

  test('an error status from the upstream (a trailers-only answer) reaches the browser with its message', async () => {
    const channel = createChannel(edge.url, FetchTransport());
    const auth = createClient(authV1.AuthServiceDefinition, channel);
    await expectStatus(auth.register({ username: 'alice', password: undefined, deviceId: 'd', displayName: '' }), Status.UNIMPLEMENTED, /not part of this test double/);
  });

  test('an im.internal.v1 method over grpc-web is UNIMPLEMENTED', async () => {
    const channel = createChannel(edge.url, FetchTransport());
    const keys = createClient(internalV1.KeyServiceDefinition, channel);
    await expectStatus(keys.getJwks({}), Status.UNIMPLEMENTED, /internal/);
  });

  test('CORS preflight grants POST and the grpc-web headers to an allowed origin, and refuses others', async () => {
    const preflight = await fetch(`${edge.url}/im.message.v1.MessageService/SendMessage`, {
      method: 'OPTIONS',
      headers: {
        origin: APP_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent,authorization,grpc-timeout,x-trace-tag,cookie',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    const granted = (preflight.headers.get('access-control-allow-headers') ?? '').split(/,\s*/);
    for (const header of ['content-type', 'x-grpc-web', 'x-user-agent', 'authorization', 'grpc-timeout', 'x-trace-tag']) {
      assert.ok(granted.includes(header), `${header} is allowed`);
    }
    assert.ok(!granted.includes('cookie'), 'headers outside the list are not granted');

    const stranger = await fetch(`${edge.url}/im.message.v1.MessageService/SendMessage`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.test', 'access-control-request-method': 'POST' },
    });
    assert.equal(stranger.status, 403);
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
  });

  // The forwarded mode has nothing to count: its edge is given no in-process services.
  if (inProcess) test('auth\'s and core\'s unary calls were served in-process', () => {
    assert.ok(servedInProcess.get('/im.auth.v1.AuthService/GetLoginKey'), 'GetLoginKey in-process');
    assert.ok(servedInProcess.get('/im.message.v1.MessageService/SendMessage'), 'SendMessage in-process');
  });
});
