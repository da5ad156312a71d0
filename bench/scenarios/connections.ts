// connections: N authenticated WebSocket connections held with heartbeats on
// one connect node, and the resident memory they cost. The connections dial the
// connect node's own /ws port, not the edge: through the edge every connection
// would also hold two sockets in the edge's process (in embedded mode the same
// process), and 15,000 of them would pass the 20,000 open files a process may
// have before the connect node is measured.
//
// RSS per connection is marginal: the first half of the connections opens, the
// process settles, RSS is read; the second half opens, settles, RSS is read
// again; the difference over N/2 is what one more idle connection costs. A
// before/after-everything reading is useless here: the logins just before
// (argon2id, 19 MiB per hash) leave the heap and malloc arenas larger than the
// steady state, and RSS falls while the connections open. It is read from the
// process holding the connect node (the whole all-in-one in embedded mode).
import { readFileSync } from 'node:fs';
import { createUsers } from '../harness/accounts.js';
import { openReceivers, round } from '../harness/message-load.js';
import type { ReceiverSpec } from '../harness/load-protocol.js';
import { durationOf, type ScenarioContext, type ScenarioResult } from '../harness/scenario.js';
import { WorkerPool } from '../harness/worker-pool.js';

/** Resident set size of `pid` in KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** Lets the server finish the work of a burst of connects (presence writes, GC) before RSS is read. */
function settle(): Promise<void> {
  return new Promise((done) => setTimeout(done, 5_000));
}

export async function connections(context: ScenarioContext): Promise<ScenarioResult> {
  const devicesPerUser = context.size === 'real' ? 100 : 10;
  // Whole users of `devicesPerUser` devices each.
  const total = Math.ceil((context.clients ?? (context.size === 'real' ? 15_000 : 40)) / devicesPerUser) * devicesPerUser;
  const holdMs = durationOf(context, 60_000, 3_000);
  const node = context.system.connectWsUrls[0]!;
  const pid = context.system.connectPids[0]!;
  context.log(`  logging in ${total} devices (${total / devicesPerUser} users)`);
  const users = await createUsers(context.system.edgeUrl, 'conn', total / devicesPerUser, devicesPerUser, (done, all) => context.progress(`  logins ${done}/${all}`));
  const receivers: ReceiverSpec[] = users.flatMap((user) => user.devices).map((device, id) => ({ id, userId: device.userId, accessToken: device.accessToken, url: node }));
  const pool = await WorkerPool.start(WorkerPool.sizeFor(total), context.system.edgeUrl);
  try {
    const half = Math.floor(total / 2);
    // Time spent opening, both halves (the settle in between is left out).
    let openMs = Date.now();
    await openReceivers(context, pool, receivers.slice(0, half), 200);
    openMs = Date.now() - openMs;
    await settle();
    const before = rssKiB(pid);
    const secondHalfAt = Date.now();
    await openReceivers(context, pool, receivers.slice(half), 200);
    openMs += Date.now() - secondHalfAt;
    await settle();
    const marginal = rssKiB(pid);
    const heldFrom = Date.now();
    let minOpen = total;
    while (Date.now() - heldFrom < holdMs) {
      await new Promise((done) => setTimeout(done, 1_100));
      const open = pool.totals().open;
      minOpen = Math.min(minOpen, open);
      context.progress(`  holding ${open}/${total} connections, ${((Date.now() - heldFrom) / 1000).toFixed(0)} s, server RSS ${(rssKiB(pid) / 1024).toFixed(0)} MiB`);
    }
    const after = rssKiB(pid);
    const perConnectionKiB = round((marginal - before) / (total - half), 2);
    const stillOpen = pool.totals().open;
    return {
      scenario: 'connections',
      mode: context.system.mode,
      size: context.size,
      parameters: { connections: total, users: users.length, devicesPerUser, holdMs, path: 'connect node /ws (direct)', loadProcesses: pool.workers.length },
      metrics: {
        openedIn_ms: openMs,
        connectionsPerSecondOpening: round(total / (openMs / 1000)),
        heldAtEnd: stillOpen,
        fewestHeldDuringHold: minOpen,
        serverRssAtHalf_MiB: round(before / 1024),
        serverRssAtAll_MiB: round(marginal / 1024),
        serverRssAfterHold_MiB: round(after / 1024),
        rssPerConnection_KiB: perConnectionKiB,
      },
      targets: [
        { what: 'connections held on one node', unit: 'connections', measured: Math.min(stillOpen, minOpen), target: 15_000, goal: 15_000, higherIsBetter: true },
        { what: 'RSS per idle connection', unit: 'KiB', measured: perConnectionKiB, target: 24, goal: 16, higherIsBetter: false },
      ],
      loss: { expected: 0, received: 0, lost: total - Math.min(stillOpen, minOpen), duplicated: 0, reordered: 0, unexpected: 0 },
      series: [],
      histogram: [],
      notes: [
        `"lost" here counts connections that dropped during the hold (${total - Math.min(stillOpen, minOpen)}).`,
        context.system.mode === 'embedded'
          ? 'Embedded mode: the RSS is the whole all-in-one process (edge, auth, core and connect), so it is an upper bound for the connect node.'
          : 'Split mode: the RSS is the first connect node process alone; every connection dials that node.',
      ],
    };
  } finally {
    await pool.close();
  }
}
