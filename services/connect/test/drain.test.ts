// Graceful drain: stop() tells every client to reconnect elsewhere, removes
// their presence, reports the acks they already sent, and refuses newcomers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { uuidv7 } from '@im-mesh/platform';
import { authenticatedSocket, eventually, openConnect, openSubscribe, startHarness } from './support/connect-harness.js';
import { refusedStatus } from './support/test-socket.js';

describe('drain', () => {
  test('stop() sends GoAway(reconnect) to WebSocket, Connect and Subscribe clients, clears presence and flushes acks', async () => {
    // A long flush interval: only stop() can get the ack to core in time.
    const harness = await startHarness({ CONNECT_ACK_FLUSH_MS: '60000' });
    try {
      const ws = await authenticatedSocket(harness, 'user-a', 'device-ws');
      const connect = openConnect(harness, harness.token('user-a', 'device-grpc'));
      await connect.frames.expect('authenticated');
      const subscribe = openSubscribe(harness, harness.token('user-b', 'device-web'));
      await subscribe.frames.expect('authenticated');
      const conversationId = uuidv7();
      ws.socket.send({ kind: { $case: 'ack', value: { messageIds: [], delivered: [{ conversationId, seq: 12 }] } } });
      ws.socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
      await ws.socket.frames.expect('pong');

      const stopped = harness.service.stop();
      for (const [name, frames] of [
        ['websocket', ws.socket.frames],
        ['connect', connect.frames],
        ['subscribe', subscribe.frames],
      ] as const) {
        const goAway = await frames.expect('goAway');
        assert.equal(goAway.reconnect, true, name);
        assert.equal(goAway.reason, 'draining', name);
        assert.ok(goAway.reconnectAfterMs >= 0 && goAway.reconnectAfterMs <= 2_000, `${name}: ${goAway.reconnectAfterMs} ms`);
      }
      assert.equal((await ws.socket.closed).code, 1001);
      assert.equal(await connect.frames.ended, undefined, 'Connect ends OK');
      assert.equal(await subscribe.frames.ended, undefined, 'Subscribe ends OK');
      await stopped;

      assert.deepEqual(await harness.presence.routesOf(['user-a', 'user-b']), new Map());
      await eventually(() => harness.double.reports.flat().some((d) => d.conversationId === conversationId && d.seq === 12), 500, 'ack flushed');
    } finally {
      await harness.stop();
    }
  });

  test('while draining, new WebSocket upgrades are refused with 503', async () => {
    const harness = await startHarness({ CONNECT_DRAIN_GRACE_MS: '300' });
    try {
      // A client that stops reading never answers the close frame, so the drain
      // waits out its grace period with the HTTP server still up.
      const stuck = await authenticatedSocket(harness, 'user-c', 'device-c1');
      stuck.socket.ws.pause();
      const stopped = harness.service.stop();
      assert.equal(await refusedStatus(harness.httpAddress), 503);
      await stopped;
    } finally {
      await harness.stop();
    }
  });
});
