// reconnect-storm: N connected clients lose their connections at once (TCP cut,
// no close handshake), messages are sent to them while they are away, then all
// reconnect at the same moment and catch up the way a client must: subscribe,
// SyncConversations, PullMessages from the last seq they hold, keeping pushes
// that arrive meanwhile (deduped by seq). The clock runs from the reconnect
// command to the moment the last client holds every message of every
// conversation; a client that fails a step backs off (jittered, 200 ms to 2 s)
// and retries, as the SDK does.
//
// The connections dial the connect nodes' own /ws ports (round-robin over the
// nodes), for the same open-files reason as connections.ts; the sync calls go
// through the edge.
import { createUsers } from '../harness/accounts.js';
import { collectAll, lossOf, openReceivers, round, runSends } from '../harness/message-load.js';
import type { ReceiverSpec, SenderSpec } from '../harness/load-protocol.js';
import { monotonicNs } from '../harness/load-protocol.js';
import { windowOf, type ScenarioContext, type ScenarioResult } from '../harness/scenario.js';
import { WorkerPool } from '../harness/worker-pool.js';

export async function reconnectStorm(context: ScenarioContext): Promise<ScenarioResult> {
  const real = context.size === 'real';
  const devicesPerUser = real ? 10 : 2;
  const clients = Math.ceil((context.clients ?? (real ? 10_000 : 20)) / devicesPerUser) * devicesPerUser;
  const senderCount = Math.max(1, Math.min(100, Math.floor(clients / devicesPerUser / 10)));
  const missedPerConversation = 3;
  const nodes = context.system.connectWsUrls;
  context.log(`  logging in ${clients} devices (${clients / devicesPerUser} users) and ${senderCount} senders`);
  const users = await createUsers(context.system.edgeUrl, 'storm', clients / devicesPerUser, devicesPerUser, (done, total) => context.progress(`  logins ${done}/${total}`));
  const senderUsers = await createUsers(context.system.edgeUrl, 'storm-tx', senderCount, 1);
  const receivers: ReceiverSpec[] = users
    .flatMap((user) => user.devices)
    .map((device, id) => ({ id, userId: device.userId, accessToken: device.accessToken, url: nodes[id % nodes.length]! }));
  // Each recipient user gets `missedPerConversation` messages from one sender while its devices are away.
  const senders: SenderSpec[] = users.map((user, i) => ({ accessToken: senderUsers[i % senderCount]!.devices[0]!.accessToken, toUserId: user.userId }));
  const pool = await WorkerPool.start(WorkerPool.sizeFor(clients), context.system.edgeUrl);
  try {
    await openReceivers(context, pool, receivers, 200);
    context.log(`  ${clients} connected; cutting them all`);
    await Promise.all(pool.workers.map((worker) => worker.call({ type: 'drop' }, 'dropped')));
    // Give the connect node a moment to see the cuts, so most sends find nobody online.
    await new Promise((done) => setTimeout(done, 2_000));
    const sends = await runSends(context, pool, senders, { kind: 'count', count: missedPerConversation, inFlight: 1 }, 'sending to the offline clients');
    context.log(`  ${sends.ok} messages sent while offline (${sends.failed} failed); reconnecting all ${clients} at once`);
    const startedAt = monotonicNs();
    const ticker = setInterval(() => context.progress(`  reconnecting: ${pool.totals().open}/${clients} open, ${(Number(monotonicNs() - startedAt) / 1e9).toFixed(0)} s`), 1_000);
    const replies = await Promise.all(pool.workers.map((worker) => worker.call({ type: 'reconnect' }, 'reconnected'))).finally(() => clearInterval(ticker));
    const synced = replies.reduce((sum, reply) => sum + reply.result.synced, 0);
    const notSynced = replies.reduce((sum, reply) => sum + reply.result.notSynced, 0);
    const lastComplete = replies.reduce((latest, reply) => (BigInt(reply.result.lastCompleteNs) > latest ? BigInt(reply.result.lastCompleteNs) : latest), 0n);
    const allSyncedSeconds = notSynced === 0 ? round(Number(lastComplete - startedAt) / 1e9) : -1;
    // The last client alone is noisy (one unlucky backoff moves it by up to 2 s): the spread says how the storm went.
    const completions = replies.flatMap((reply) => reply.result.completeNs.map((ns) => Number(BigInt(ns) - startedAt) / 1e9)).sort((a, b) => a - b);
    const completedBy = (q: number) => round(completions[Math.min(completions.length - 1, Math.floor(q * completions.length))] ?? 0);
    const collected = await collectAll(pool);
    const loss = lossOf(receivers, sends, collected);
    const errors = replies.flatMap((reply) => reply.result.errors);
    return {
      scenario: 'reconnect-storm',
      mode: context.system.mode,
      size: context.size,
      parameters: { clients, users: users.length, devicesPerUser, missedPerConversation, connectNodes: nodes.length, path: 'connect nodes /ws (direct), sync through the edge' },
      metrics: {
        sentWhileOffline: sends.ok,
        synced,
        notSynced,
        allSynced_s: allSyncedSeconds,
        halfSynced_s: completedBy(0.5),
        synced90_s: completedBy(0.9),
        synced99_s: completedBy(0.99),
        retries: replies.reduce((sum, reply) => sum + reply.result.retries, 0),
        pulled: replies.reduce((sum, reply) => sum + reply.result.pulled, 0),
        pushedAfterReconnect: replies.reduce((sum, reply) => sum + reply.result.pushedAfterReconnect, 0),
      },
      targets: real ? [{ what: `${clients} clients reconnected and synced (the issue: 10,000)`, unit: 's', measured: allSyncedSeconds < 0 ? 120 : allSyncedSeconds, target: 20, goal: 10, higherIsBetter: false }] : [],
      loss,
      series: [],
      histogram: [],
      notes: [
        'Latency is not timed here: what the clients catch up on waited for them while they were away.',
        ...(errors.length > 0 ? [`retried errors (first ones): ${[...new Set(errors)].slice(0, 3).join('; ')}`] : []),
        ...(notSynced > 0 ? [`${notSynced} clients were not complete after 120 s (allSynced_s = -1; the target row shows the 120 s bound).`] : []),
      ],
      windows: { storm: windowOf(startedAt, lastComplete > startedAt ? lastComplete : monotonicNs()) },
    };
  } finally {
    await pool.close();
  }
}
