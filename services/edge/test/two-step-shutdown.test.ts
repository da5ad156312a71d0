// Shutdown in two steps, as the all-in-one does it: the edge stops accepting, the
// connect node behind it says GoAway through the tunnels and streams that are still
// open and ends them, then the edge stops. Clients see the node's own goodbye, and
// stop() returns as soon as the last stream is gone instead of after the drain period.
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { describe, test } from 'node:test';
import { connectV1 } from '@im-mesh/contracts';
import { createChannel, createClient } from 'nice-grpc';
import WebSocket from 'ws';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge } from './support/test-edge.js';
import { startUpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();
type ConnectRequest = { frame: { kind: { $case: 'ping'; value: { clientTimeMs: number } } } };

/** Requests the test hands to an open bidi stream one at a time, then ends. */
function requestQueue() {
  const pending: ConnectRequest[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    ping(n: number) {
      pending.push({ frame: { kind: { $case: 'ping', value: { clientTimeMs: n } } } });
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<ConnectRequest> {
      for (;;) {
        while (pending.length > 0) yield pending.shift()!;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}

function refusesConnections(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('edge shutdown in two steps', () => {
  test('after stopAccepting new connections are refused while an open Connect stream and WebSocket keep flowing; stop() after they end returns well under EDGE_DRAIN_MS', async () => {
    const upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    const edge = await startTestEdge(upstreams.addresses, { EDGE_DRAIN_MS: '5000' });
    const channel = createChannel(edge.address);
    try {
      const requests = requestQueue();
      const responses = createClient(connectV1.ConnectServiceDefinition, channel).connect(requests)[Symbol.asyncIterator]();
      const nextPong = async () => {
        const { value, done } = await responses.next();
        assert.equal(done, false, 'the Connect stream is still open');
        return value?.frame?.kind?.$case === 'pong' ? value.frame.kind.value.clientTimeMs : undefined;
      };
      requests.ping(1);
      assert.equal(await nextPong(), 1);

      const socket = new WebSocket(`${edge.url.replace('http', 'ws')}/ws`, ['im.v1']);
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      const echo = (text: string) =>
        new Promise<string>((resolve) => {
          socket.once('message', (data) => resolve(String(data)));
          socket.send(text);
        });
      assert.equal(await echo('before'), 'before');

      await edge.stopAccepting();
      assert.equal(await refusesConnections(edge.address), true, 'a new connection is refused');

      // What was open goes on: the connect node still talks to its clients.
      requests.ping(2);
      assert.equal(await nextPong(), 2);
      assert.equal(await echo('after'), 'after');

      // The connect node ends both, as it does when it drains.
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      upstreams.closeWebSockets(1001, 'draining');
      assert.equal(await closed, 1001, 'the client sees the node close, not an abnormal close (1006)');
      requests.end();
      assert.equal((await responses.next()).done, true, 'the Connect stream ended with OK');

      const started = Date.now();
      await edge.stop();
      const took = Date.now() - started;
      assert.ok(took < 1_000, `stop() took ${took} ms after the last stream ended (drain period 5000 ms)`);
    } finally {
      channel.close();
      await edge.stop();
      await upstreams.stop();
    }
  });

  test('stop() alone still stops accepting first (the standalone SIGTERM path)', async () => {
    const upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    const edge = await startTestEdge(upstreams.addresses, { EDGE_DRAIN_MS: '5000' });
    try {
      assert.equal((await fetch(`${edge.url}/healthz`)).status, 200);
      const started = Date.now();
      await edge.stop();
      assert.ok(Date.now() - started < 1_000, 'with nothing open, stop() does not wait for the drain period');
      assert.equal(await refusesConnections(edge.address), true);
    } finally {
      await upstreams.stop();
    }
  });
});
