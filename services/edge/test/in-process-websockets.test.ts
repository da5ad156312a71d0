// The all-in-one's shortcut: with a connect node in the same process the edge
// hands it the upgrade instead of tunnelling to CONNECT_WS_ADDRESS. The client
// must not notice anything but the missing hop: the same handshake, the same
// checks at the edge (path, per-IP limit), the client's address in
// X-Forwarded-For, and a socket still open when the edge stops is cut.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { openWebSocket } from './support/open-websocket.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { deadAddress, startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();

/** A connect node's WebSocket endpoint living in this process: echoes, and records what it was handed. */
function inProcessConnectNode() {
  const handed: Array<{ headers: IncomingMessage['headers']; remoteAddress: string | undefined }> = [];
  const sockets = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('im.v1') ? 'im.v1' : false) });
  sockets.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return {
    handed,
    sockets,
    accept(request: IncomingMessage, socket: Duplex, head: Buffer) {
      handed.push({ headers: request.headers, remoteAddress: request.socket.remoteAddress });
      sockets.handleUpgrade(request, socket, head, (ws) => sockets.emit('connection', ws, request));
    },
  };
}

describe('WebSocket upgrades handed to an in-process connect node', () => {
  let upstreams: UpstreamDoubles;
  let unreachableWs: string;

  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    // Nothing listens there: a tunnel attempt would answer 502.
    unreachableWs = await deadAddress();
  });
  after(async () => {
    await upstreams.stop();
  });

  const startEdge = (node: ReturnType<typeof inProcessConnectNode>, overrides: Record<string, string> = {}): Promise<TestEdge> =>
    startTestEdge({ ...upstreams.addresses, connectWs: unreachableWs }, overrides, undefined, {
      localWebSockets: (req, socket, head) => node.accept(req, socket, head),
    });

  test('the node handshakes on the client socket itself: frames echo, no tunnel is opened, X-Forwarded-For names the client', async () => {
    const node = inProcessConnectNode();
    const edge = await startEdge(node);
    const tunnelsBefore = upstreams.calls.lastUpgradeHeaders;
    try {
      const socket = await openWebSocket(`${edge.url.replace('http', 'ws')}/ws`, ['im.v1', `im.auth.${issuer.accessToken()}`]);
      assert.equal(socket.protocol, 'im.v1');
      const echoed = new Promise<Buffer>((resolve) => socket.once('message', (data) => resolve(data as Buffer)));
      socket.send(Buffer.from([7, 8, 9]));
      assert.deepEqual([...(await echoed)], [7, 8, 9]);
      assert.equal(node.handed.length, 1);
      assert.equal(node.handed[0]!.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(node.handed[0]!.remoteAddress, '127.0.0.1', 'the node sees the client socket, not an edge-side tunnel');
      assert.equal(upstreams.calls.lastUpgradeHeaders, tunnelsBefore, 'nothing reached the CONNECT_WS_ADDRESS node');
      socket.close();
    } finally {
      await edge.stop();
    }
  });

  test('the edge still checks first: another path gets 404 and past the per-IP burst 429, without reaching the node', async () => {
    const node = inProcessConnectNode();
    const edge = await startEdge(node, { EDGE_RATE_LIMIT_PER_IP: '1', EDGE_RATE_LIMIT_PER_IP_BURST: '2' });
    const url = edge.url.replace('http', 'ws');
    try {
      await assert.rejects(openWebSocket(`${url}/elsewhere`, ['im.v1']), /HTTP 404/);
      (await openWebSocket(`${url}/ws`, ['im.v1'])).close();
      (await openWebSocket(`${url}/ws`, ['im.v1'])).close();
      await assert.rejects(openWebSocket(`${url}/ws`, ['im.v1']), /HTTP 429/);
      assert.equal(node.handed.length, 2, 'refused upgrades never reach the node');
    } finally {
      await edge.stop();
    }
  });

  test('stop() cuts a handed-over socket still open after the drain period', async () => {
    const node = inProcessConnectNode();
    const edge = await startEdge(node, { EDGE_DRAIN_MS: '300' });
    const socket = await openWebSocket(`${edge.url.replace('http', 'ws')}/ws`, ['im.v1']);
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await edge.stop();
    assert.equal(await closed, 1006, 'cut without a close frame, as a tunnel is');
  });
});
