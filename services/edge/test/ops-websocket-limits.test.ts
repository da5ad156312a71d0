// The rest of the edge's one port: WebSocket upgrades tunnelled to a connect node,
// the operator endpoints, and the per-IP and per-user rate limits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authV1, connectV1, messageV1 } from '@im-mesh/contracts';
import { createChannel, createClient, Metadata, Status } from 'nice-grpc';
import { openWebSocket } from './support/open-websocket.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { deadAddress, startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();

describe('WebSocket and ops on the edge port', () => {
  let upstreams: UpstreamDoubles;
  let edge: TestEdge;

  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    edge = await startTestEdge(upstreams.addresses);
  });
  after(async () => {
    await edge.stop();
    await upstreams.stop();
  });

  test('a WebSocket on /ws is tunnelled to the connect node: subprotocol kept, binary frames echoed, client address forwarded, token not logged', async () => {
    const token = issuer.accessToken();
    const socket = await openWebSocket(`${edge.url.replace('http', 'ws')}/ws`, ['im.v1', `im.auth.${token}`]);
    try {
      assert.equal(socket.protocol, 'im.v1');
      const echoed = new Promise<Buffer>((resolve) => socket.once('message', (data) => resolve(data as Buffer)));
      socket.send(Buffer.from([1, 2, 3, 250]));
      assert.deepEqual([...(await echoed)], [1, 2, 3, 250]);
      const seen = upstreams.calls.lastUpgradeHeaders;
      assert.equal(seen?.['x-forwarded-for'], '127.0.0.1');
      assert.match(String(seen?.['sec-websocket-protocol']), /im\.auth\./);
    } finally {
      socket.close();
    }
    assert.ok(!edge.logLines.join('').includes(token.slice(-30)), 'the token is not in the edge log');
  });

  test('an upgrade on another path is refused with 404', async () => {
    await assert.rejects(openWebSocket(`${edge.url.replace('http', 'ws')}/not-ws`, ['im.v1']), /HTTP 404/);
  });

  test('/healthz answers 200 and /readyz 200 while every upstream is reachable', async () => {
    const health = await fetch(`${edge.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${edge.url}/readyz`);
    assert.equal(ready.status, 200, await ready.clone().text());
  });

  test('/metrics counts calls by route, protocol and status', async () => {
    const channel = createChannel(edge.address);
    try {
      await createClient(authV1.AuthServiceDefinition, channel).getLoginKey({ deviceId: 'metrics' });
    } finally {
      channel.close();
    }
    const text = await (await fetch(`${edge.url}/metrics`)).text();
    assert.match(text, /edge_requests_total\{route="\/im\.auth\.v1\.AuthService\/GetLoginKey",protocol="grpc",status="OK"[^}]*\} \d+/);
    assert.match(text, /edge_active_streams/);
    assert.match(text, /edge_upstream_errors_total/);
  });
});

describe('edge readiness and WebSocket when upstreams are down', () => {
  test('/readyz is 503 naming the unreachable upstream, and a WebSocket upgrade gets 502', async () => {
    const upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    const edge = await startTestEdge({ ...upstreams.addresses, connectWs: await deadAddress() });
    try {
      const ready = await fetch(`${edge.url}/readyz`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { failures: Record<string, string> };
      assert.deepEqual(Object.keys(body.failures), ['upstream:connectWs']);
      await assert.rejects(openWebSocket(`${edge.url.replace('http', 'ws')}/ws`, ['im.v1']), /HTTP 502/);
    } finally {
      await edge.stop();
      await upstreams.stop();
    }
  });
});

describe('edge rate limits', () => {
  let upstreams: UpstreamDoubles;
  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
  });
  after(async () => {
    await upstreams.stop();
  });

  test('past the per-IP burst, calls get RESOURCE_EXHAUSTED with a retry hint and do not reach auth', async () => {
    const edge = await startTestEdge(upstreams.addresses, { EDGE_RATE_LIMIT_PER_IP: '1', EDGE_RATE_LIMIT_PER_IP_BURST: '3' });
    const channel = createChannel(edge.address);
    try {
      const auth = createClient(authV1.AuthServiceDefinition, channel);
      const before = upstreams.calls.getLoginKey;
      for (let i = 0; i < 3; i += 1) await auth.getLoginKey({ deviceId: `burst-${i}` });
      await assert.rejects(auth.getLoginKey({ deviceId: 'one-too-many' }), (error: { code: Status; details: string }) => {
        assert.equal(error.code, Status.RESOURCE_EXHAUSTED);
        assert.match(error.details, /Too many requests from your address; retry in [\d.]+ s/);
        return true;
      });
      assert.equal(upstreams.calls.getLoginKey, before + 3);
      // grpc-web and WebSocket upgrades from the same address share the bucket.
      const web = await fetch(`${edge.url}/im.auth.v1.AuthService/GetLoginKey`, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto' },
        body: Buffer.from([0, 0, 0, 0, 0]),
      });
      assert.match(Buffer.from(await web.arrayBuffer()).toString('latin1'), new RegExp(`grpc-status: ${Status.RESOURCE_EXHAUSTED}`));
      await assert.rejects(openWebSocket(`${edge.url.replace('http', 'ws')}/ws`, ['im.v1']), /HTTP 429/);
    } finally {
      channel.close();
      await edge.stop();
    }
  });

  test('past the per-user burst, that user gets RESOURCE_EXHAUSTED while another user still gets through', async () => {
    const edge = await startTestEdge(upstreams.addresses, { EDGE_RATE_LIMIT_PER_USER: '1', EDGE_RATE_LIMIT_PER_USER_BURST: '2' });
    const channel = createChannel(edge.address);
    try {
      const messages = createClient(messageV1.MessageServiceDefinition, channel);
      const send = (userId: string, n: number) =>
        messages.sendMessage(
          { target: { $case: 'toUserId', value: 'user-bob' }, clientMsgId: `${userId}-${n}`, content: undefined },
          { metadata: Metadata({ authorization: `Bearer ${issuer.accessToken({ userId })}` }) },
        );
      await send('user-chatty', 1);
      await send('user-chatty', 2);
      await assert.rejects(send('user-chatty', 3), (error: { code: Status; details: string }) => {
        assert.equal(error.code, Status.RESOURCE_EXHAUSTED);
        assert.match(error.details, /for your account; retry in/);
        return true;
      });
      assert.equal((await send('user-quiet', 1)).messageId, 'echo-user-quiet-1');
    } finally {
      channel.close();
      await edge.stop();
    }
  });
});

describe('edge shutdown', () => {
  test('stop() stops accepting, cuts a never-ending Subscribe stream after the drain period, and returns', async () => {
    const upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    const edge = await startTestEdge(upstreams.addresses, { EDGE_DRAIN_MS: '300' });
    const channel = createChannel(edge.address);
    try {
      const connect = createClient(connectV1.ConnectServiceDefinition, channel);
      const stream = connect.subscribe({}, { metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}` }) });
      const iterator = stream[Symbol.asyncIterator]();
      assert.equal((await iterator.next()).done, false, 'the stream is open');
      const started = Date.now();
      await edge.stop();
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 3_000, `stop took ${took} ms with a drain period of 300 ms`);
      await assert.rejects(
        (async () => {
          for (;;) if ((await iterator.next()).done) return;
        })(),
        (error: { code?: Status }) => error.code === Status.UNAVAILABLE || error.code === Status.CANCELLED || error.code === Status.INTERNAL,
      );
      await assert.rejects(fetch(`${edge.url}/healthz`), 'the port no longer accepts connections');
    } finally {
      channel.close();
      await upstreams.stop();
    }
  });
});
