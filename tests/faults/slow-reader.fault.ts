// Fault scenario: a slow reader under a storm. One more device of user 0 holds a
// WebSocket straight to connect node 1 and stops reading it (a raw client: the
// SDK would notice the missing pongs and reconnect by itself, which is not the
// client this is about) while a storm of large messages (10,000 four-byte
// characters each) is sent to its user. The node must not buffer for it without
// bound: once the socket's unsent bytes pass CONNECT_MAX_BUFFERED_BYTES (256 KiB
// here) it closes the connection as a slow reader (1013). Its memory is sampled
// throughout. The device then comes back with the SDK and no local state, and
// must show every message once, in order (the history checker judges it like
// every other device). The other devices on the same node read the same storm
// and are never disconnected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImClient } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import type { History } from './support/history.js';
import { RawDevice } from './support/raw-device.js';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep, until, type Sender } from './support/storm.js';

const LARGE_TEXT_LENGTH = 10_000;
/** Large sends in flight per sender. */
const LARGE_WINDOW = 2;
/** The slow-reader cap of this scenario (CONNECT_MAX_BUFFERED_BYTES; 1 MiB by default), so a loaded machine's storm passes it soon. */
const MAX_BUFFERED_BYTES = 256 * 1024;
/** How much the node's resident memory may grow during the storm. */
const RSS_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024;

async function metricOf(httpAddress: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://${httpAddress}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

/** Sends large texts from each sender, `LARGE_WINDOW` at a time, until `done()` or the time is up. */
async function largeStorm(history: History, senders: readonly Sender[], done: () => boolean, maxMs: number): Promise<void> {
  const end = Date.now() + maxMs;
  await Promise.all(
    senders.map(async (sender) => {
      const running = new Set<Promise<unknown>>();
      let sent = 0;
      while (Date.now() < end && !done()) {
        if (running.size < LARGE_WINDOW) {
          const label = `${sender.device.name} large #${sent} `;
          // Four UTF-8 bytes per character: the most bytes a message may carry, so few sends fill the socket.
          const text = label + '\u{1F4E6}'.repeat(LARGE_TEXT_LENGTH - label.length);
          const send: Promise<unknown> = history.send(sender.device, sender.toUserId, { text }).finally(() => running.delete(send));
          running.add(send);
          sent += 1;
        }
        await sleep(20);
      }
      await Promise.all(running);
    }),
  );
}

test('a slow reader under a storm: the node closes it with bounded memory, others on the node are unaffected, and it later syncs everything once', async () => {
  await runFaultScenario({ label: 'slow_reader', convergeWithinMs: 45_000, env: { CONNECT_MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES) } }, async ({ system, fleet, history }) => {
    const node = system.connects[0]!;
    const user = fleet.users[0]!;
    const raw = await RawDevice.open(system.edgeUrl, `ws://${node.httpAddress}/ws`, user, 'u0-slow');
    let slow: ImClient | undefined;
    let sampling: NodeJS.Timeout | undefined;
    try {
      const neighbours = fleet.devicesOn(0);
      assert.ok(neighbours.length > 0, 'other devices share the slow reader\'s node');
      const drops = new Map(neighbours.map((device) => [device.name, 0]));
      for (const device of neighbours) {
        device.client.onStateChange((state) => {
          if (state !== 'connected') drops.set(device.name, drops.get(device.name)! + 1);
        });
      }
      const rssPattern = /^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/m;
      const slowClosesPattern = /^connect_closes_total\{[^}]*reason="slow_reader"[^}]*\} (\d+)/m;
      const rssBefore = await metricOf(node.httpAddress, rssPattern);
      let rssPeak = rssBefore;
      sampling = setInterval(() => {
        metricOf(node.httpAddress, rssPattern).then((rss) => (rssPeak = Math.max(rssPeak, rss)), () => undefined);
      }, 250);

      // Stop reading: the socket's data piles up in the kernel (about 4 MB on loopback), then in the node.
      raw.socket.pause();
      history.mark('fault');
      const stormStarted = history.now();
      const peer = fleet.users[1]!;
      const other = fleet.users[2]!;
      let closedAfterMs: number | undefined;
      const watchClose = until('the node to close the slow reader', async () => (await metricOf(node.httpAddress, slowClosesPattern)) > 0, 60_000).then(
        (ms) => (closedAfterMs = ms),
      );
      const largeSenders = [peer.devices[0]!, other.devices[0]!, fleet.users[3]!.devices[0]!].map((device) => ({ device, toUserId: user.userId }));
      await Promise.all([
        runStorm(history, ringSenders(fleet), { durationMs: 12_000, intervalMs: 300 }),
        // Large messages until the node gives up on the slow reader (a loaded machine sends slowly).
        largeStorm(history, largeSenders, () => closedAfterMs !== undefined, 60_000),
        watchClose,
      ]);
      clearInterval(sampling);
      const stormEnded = history.now();
      const bytesToSlow = [...history.sends.values()]
        .filter((record) => record.recipientUserId === user.userId)
        .reduce((sum, record) => sum + Buffer.byteLength(record.text), 0);

      // Back with the SDK and no local state: everything must come by sync, once.
      history.mark('healed');
      const pushedBeforeClose = raw.pushes.length;
      raw.close();
      slow = new ImClient({
        baseUrl: system.edgeUrl,
        webSocketUrl: `ws://${node.httpAddress}/ws`,
        tokens: raw.auth,
        transport: 'websocket',
        platform: nodePlatform,
        rpc: 'grpc',
        call: { timeoutMs: 3_000, attempts: 4, retryDelayMs: 250 },
      });
      history.track({ name: 'u0-slow', userId: user.userId, client: slow });
      await slow.connect();
      assert.ok(await history.waitForConvergence(40_000), 'every device, the slow reader back with the SDK included, shows every acked send');

      const neighbourLatencies = history.shown
        .filter((shown) => drops.has(shown.device) && shown.shownAt >= stormStarted && shown.shownAt <= stormEnded)
        .flatMap((shown) => {
          const record = [...history.sends.values()].find((candidate) => candidate.senderUserId === shown.senderId && candidate.clientMsgId === shown.clientMsgId);
          return record && record.senderDevice !== shown.device ? [shown.shownAt - record.startedAt] : [];
        })
        .sort((a, b) => a - b);
      const at = (p: number) => Math.round(neighbourLatencies[Math.min(neighbourLatencies.length - 1, Math.ceil(p * neighbourLatencies.length) - 1)] ?? NaN);
      const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
      console.log(
        `[fault-history] slow_reader: ${mb(bytesToSlow)} MB of text sent to the slow reader's user; node closed it ${closedAfterMs} ms into the storm ` +
          `(it had read ${pushedBeforeClose} pushes before it stopped reading); ` +
          `node rss ${mb(rssBefore)} MB before, ${mb(rssPeak)} MB at most (+${mb(rssPeak - rssBefore)} MB); ` +
          `neighbours on the node (${[...drops.keys()].join(', ')}): reconnects ${JSON.stringify(Object.fromEntries(drops))}, ` +
          `latency p50=${at(0.5)}ms p99=${at(0.99)}ms over ${neighbourLatencies.length} deliveries`,
      );
      assert.deepEqual([...drops.values()].filter((count) => count > 0), [], 'no other device on the node was disconnected');
      // The close is what bounds the slow reader's share (its cap); this bounds the whole node under the storm.
      assert.ok(rssPeak - rssBefore < RSS_GROWTH_LIMIT_BYTES, `node memory grew by ${mb(rssPeak - rssBefore)} MB under the storm`);
    } finally {
      clearInterval(sampling);
      raw.close();
      await slow?.close(500);
    }
  });
});
