// Fault scenario: a device that never acks. A raw WebSocket client, authenticated
// with a real access token, reads every frame (and pings, so it is not idle) but
// never sends an Ack while the others chat with its user. The connect node keeps
// each pushed message in the connection's awaited-ack ledger until the ack; the
// ledger is capped (CONNECT_AWAITED_PER_CONNECTION, set low here), so the node
// stays healthy however much it pushes. When the device later comes back with the
// SDK, it gets every message by sync: once, in order (the history checker judges
// it as one more recipient device).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectV1 } from '@im-mesh/contracts';
import { AuthClient, ImClient } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import WebSocket from 'ws';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep, until } from './support/storm.js';

const AWAITED_CAP = 16;

test('a device that never acks: the connect node stays healthy with a capped ledger, and the device later gets everything by sync, once and in order', async () => {
  await runFaultScenario(
    { label: 'never_acks', env: { CONNECT_AWAITED_PER_CONNECTION: String(AWAITED_CAP) }, convergeWithinMs: 45_000 },
    async ({ system, fleet, history }) => {
      const user = fleet.users[0]!;
      const node = system.connects[0]!;
      const auth = new AuthClient({ baseUrl: system.edgeUrl, platform: nodePlatform, rpc: 'grpc' });
      await auth.login(user.name, user.password, 'u0-mute', 'fault-test');
      const token = await auth.getAccessToken();
      let pushed = 0;
      let authenticated = false;
      let closed: { code: number; reason: string } | undefined;
      const socket = new WebSocket(`ws://${node.httpAddress}/ws`, ['im.v1', `im.auth.${token}`]);
      socket.binaryType = 'arraybuffer';
      socket.on('message', (data: ArrayBuffer) => {
        const frame = connectV1.ServerFrame.decode(new Uint8Array(data));
        if (frame.kind?.$case === 'authenticated') authenticated = true;
        if (frame.kind?.$case === 'message') pushed += 1;
      });
      socket.on('close', (code, reason) => (closed = { code, reason: reason.toString() }));
      const ping = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(connectV1.ClientFrame.encode({ kind: { $case: 'ping', value: { clientTimeMs: Date.now() } } }).finish());
      }, 1_000);
      let device: ImClient | undefined;
      try {
        await until('the never-acking device to be authenticated', () => authenticated || closed !== undefined, 10_000);
        assert.ok(authenticated, `the never-acking device was authenticated (closed: ${JSON.stringify(closed)})`);
        history.mark('fault');
        await runStorm(history, ringSenders(fleet), { durationMs: 8_000, intervalMs: 120 });
        await sleep(1_000);
        const health = await fetch(`http://${node.httpAddress}/healthz`);
        const metrics = await fetch(`http://${node.httpAddress}/metrics`);
        const live = /^connect_live_connections(?:\{[^}]*\})? (\d+)/m.exec(await metrics.text())?.[1];
        const rss = /^process_resident_memory_bytes (\d+)/m.exec(await (await fetch(`http://${node.httpAddress}/metrics`)).text())?.[1];
        console.log(
          `[fault-history] never_acks: pushed to the never-acking device ${pushed} (ledger cap ${AWAITED_CAP}), its socket ${closed ? `closed by the node ${JSON.stringify(closed)}` : 'still open'}, ` +
            `node healthz ${health.status}, live connections ${live}, node rss ${rss ? Math.round(Number(rss) / 1e6) : '?'} MB`,
        );
        assert.equal(health.status, 200, 'the connect node stays healthy');
        assert.ok(pushed > AWAITED_CAP, `the device was pushed more messages than the ledger holds (${pushed})`);
        clearInterval(ping);
        socket.terminate();
        history.mark('healed');
        // Back with the SDK and no local state: everything must come by sync.
        device = new ImClient({ baseUrl: system.edgeUrl, webSocketUrl: `ws://${node.httpAddress}/ws`, tokens: auth, transport: 'websocket', platform: nodePlatform, rpc: 'grpc' });
        history.track({ name: 'u0-mute', userId: user.userId, client: device });
        await device.connect();
        await history.waitForConvergence(30_000);
      } finally {
        clearInterval(ping);
        socket.terminate();
        await device?.close(500);
        auth.close();
      }
    },
  );
});
