// Fault scenario: thousands of clients reconnecting at once. A crowd of SDK
// devices (IM_FAULT_RECONNECT_CLIENTS, 5,000 by default; 5 per user) in up to 8
// child processes, each from its own loopback source address, holds WebSockets
// through an edge of its own, which tunnels them to the three connect nodes.
// Four sender devices (through the main edge) send one message to every crowd
// user while all are connected, then the crowd's edge is SIGKILLed: every crowd
// socket drops at once. While they are away each crowd user is sent one more
// message; then the edge comes back on the same port and the whole crowd
// reconnects with the SDK's own jittered backoff (250 ms doubling to 10 s), resyncs
// and must show every message exactly once, in order. Time to recover runs from
// the edge's restart to the last device showing the last message sent before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Crowd, type CrowdUser } from './support/crowd.js';
import type { FleetDevice } from './support/fleet.js';
import type { History } from './support/history.js';
import { runFaultScenario } from './support/scenario.js';
import { until } from './support/storm.js';

const CLIENTS = Number(process.env.IM_FAULT_RECONNECT_CLIENTS ?? 5_000);
const DEVICES_PER_USER = 5;
/** At most about 700 clients per process, and at most 8 processes (source addresses 127.0.0.2-127.0.0.9). */
const PROCESSES = Math.min(8, Math.max(1, Math.ceil(CLIENTS / 700)));
/** Sends in flight per sender device. */
const SEND_WINDOW = 8;

/** Each sender sends one message to its share of the crowd's users, `SEND_WINDOW` at a time. */
async function sendToEveryone(history: History, senders: readonly FleetDevice[], users: readonly CrowdUser[]): Promise<void> {
  await Promise.all(
    senders.map(async (sender, index) => {
      const mine = users.filter((_, u) => u % senders.length === index);
      let next = 0;
      await Promise.all(
        Array.from({ length: SEND_WINDOW }, async () => {
          while (next < mine.length) await history.send(sender, mine[next++]!.userId);
        }),
      );
    }),
  );
}

test(`${CLIENTS} clients reconnecting at once after their edge died: every one syncs everything exactly once`, async () => {
  assert.ok(Number.isInteger(CLIENTS) && CLIENTS >= DEVICES_PER_USER, 'IM_FAULT_RECONNECT_CLIENTS is a whole number of at least 5');
  await runFaultScenario(
    {
      label: 'mass_reconnect',
      users: 4,
      devicesPerUser: 1,
      convergeWithinMs: 120_000,
      // Heartbeats every 10 s (presence TTL 30 s): 5,000 clients pinging every 2 s would be a storm of its own on 2 cores.
      env: { CONNECT_HEARTBEAT_INTERVAL_MS: '10000' },
    },
    async ({ system, fleet, history }) => {
      const crowdEdgeEnv = {
        CONNECT_ADDRESS: system.connects.map((node) => node.grpcAddress).join(','),
        CONNECT_WS_ADDRESS: system.connects.map((node) => node.httpAddress).join(','),
      };
      const crowdEdge = await system.startExtraEdge('edge-crowd', crowdEdgeEnv);
      const crowdEdgePort = crowdEdge.grpcAddress.slice(crowdEdge.grpcAddress.lastIndexOf(':') + 1);
      const setupStarted = Date.now();
      const crowd = await Crowd.start(
        history,
        { edgeUrl: `http://${crowdEdge.grpcAddress}`, run: system.run, devices: CLIENTS, devicesPerUser: DEVICES_PER_USER, processes: PROCESSES },
        // Logins cost an argon2 verification each: allow 0.4 s per device on a busy machine, 5 minutes at least.
        Math.max(300_000, CLIENTS * 400),
      );
      try {
        const setupMs = Date.now() - setupStarted;
        assert.equal(crowd.deviceCount, Math.ceil(CLIENTS / DEVICES_PER_USER) * DEVICES_PER_USER, 'every crowd device logged in');
        const senders = fleet.users.map((user) => user.devices[0]!);

        // All connected: one message to every crowd user, pushed live.
        const liveStarted = Date.now();
        await sendToEveryone(history, senders, crowd.users);
        assert.ok(await history.waitForConvergence(90_000), 'every crowd device shows the message sent while it was connected');
        const liveMs = Date.now() - liveStarted;

        // Every crowd socket drops at once.
        history.mark('fault');
        await crowdEdge.kill();
        const droppedMs = await until('every crowd device to notice its connection is gone', async () => (await crowd.status()).connected === 0, 60_000);

        // One more message to every crowd user while they are away.
        const awayStarted = Date.now();
        await sendToEveryone(history, senders, crowd.users);
        const awayMs = Date.now() - awayStarted;

        // The edge is back: the crowd reconnects on its own backoff and syncs.
        await system.startExtraEdge('edge-crowd-2', { ...crowdEdgeEnv, EDGE_PORT: crowdEdgePort });
        history.mark('healed');
        const healedAt = Date.now();
        const reconnectedMs = await until('every crowd device to be connected again', async () => (await crowd.status()).connected === crowd.deviceCount, 150_000);
        // Sends still of unknown outcome are sent again (same client_msg_id) while the crowd is
        // still here to show them; the scenario frame does the same after this body, too late for a closed crowd.
        for (let round = 0; round < 3 && (await history.retryUnknown(fleet.devices)) > 0; round += 1);
        assert.ok(await history.waitForConvergence(150_000), 'every crowd device shows every message after reconnecting');
        const convergedMs = Date.now() - healedAt;
        const status = await crowd.status();
        console.log(
          `[fault-history] mass_reconnect: ${crowd.deviceCount} crowd devices (${crowd.users.length} users, ${PROCESSES} processes) logged in and synced in ${setupMs} ms; ` +
            `live round ${liveMs} ms; all ${crowd.deviceCount} saw the drop within ${droppedMs} ms; away round ${awayMs} ms; ` +
            `after the edge restart all connected within ${reconnectedMs} ms and showed everything within ${convergedMs} ms (${status.drops} reconnects in all)`,
        );
      } finally {
        await crowd.close();
      }
    },
  );
});
