// throughput-1to1: 500 pairs, each sender keeping 8 sends in flight to its peer
// (closed loop) for 60 s; every send is durable (acked by core after commit) and
// every receiver acks what it got. Measures acked sends per second, deliveries
// per second at the receivers, and that nothing was lost.
import { createUsers } from '../harness/accounts.js';
import {
  addSends,
  collectAll,
  HISTOGRAM_EDGES_MS,
  latencyBetween,
  lossOf,
  mergedSeries,
  monotonicNs,
  openReceivers,
  ratePerSecond,
  round,
  runSends,
  seriesPoints,
  waitForDrain,
} from '../harness/message-load.js';
import type { ReceiverSpec, SenderSpec } from '../harness/load-protocol.js';
import { durationOf, windowOf, type ScenarioContext, type ScenarioResult } from '../harness/scenario.js';
import { WorkerPool } from '../harness/worker-pool.js';

export async function throughput1to1(context: ScenarioContext): Promise<ScenarioResult> {
  const pairs = context.size === 'real' ? 500 : 10;
  const inFlight = 8;
  const durationMs = durationOf(context, 60_000, 3_000);
  context.log(`  logging in ${pairs * 2} devices`);
  const users = await createUsers(context.system.edgeUrl, 'tp', pairs * 2, 1, (done, total) => context.progress(`  logins ${done}/${total}`));
  const receivers: ReceiverSpec[] = users.slice(pairs).map((user, i) => ({ id: i, userId: user.userId, accessToken: user.devices[0]!.accessToken, url: context.system.edgeWsUrl }));
  const senders: SenderSpec[] = users.slice(0, pairs).map((user, i) => ({ accessToken: user.devices[0]!.accessToken, toUserId: users[pairs + i]!.userId }));
  const pool = await WorkerPool.start(WorkerPool.sizeFor(pairs), context.system.edgeUrl);
  try {
    await openReceivers(context, pool, receivers);
    // Warm-up, not measured: each pair's first message creates its direct conversation (and asks auth whether the peer exists).
    const all = await runSends(context, pool, senders, { kind: 'count', count: 1, inFlight: 1 }, 'warm-up');
    await waitForDrain(context, pool, all.ok);
    const from = monotonicNs();
    const sends = await runSends(context, pool, senders, { kind: 'closed', inFlight, durationMs }, 'sending');
    const to = monotonicNs();
    addSends(all, sends);
    await waitForDrain(context, pool, all.ok);
    const collected = await collectAll(pool);
    const series = mergedSeries(collected);
    const latency = latencyBetween(series, from, to);
    const sendsPerSecond = round(sends.ok / (Number(to - from) / 1e9));
    const loss = lossOf(receivers, all, collected);
    return {
      scenario: 'throughput-1to1',
      mode: context.system.mode,
      size: context.size,
      parameters: { pairs, inFlightPerPair: inFlight, durationMs, receiverPath: 'edge /ws', senderPath: 'edge gRPC SendMessage' },
      metrics: {
        sendsAcked: sends.ok,
        sendsFailed: sends.failed,
        warmupSendsFailed: all.failed - sends.failed,
        ackedSendsPerSecond: sendsPerSecond,
        deliveriesPerSecondSteady: ratePerSecond(series, from, to, 'deliveries'),
        p50Ms: round(latency.quantileMs(0.5)),
        p99Ms: round(latency.quantileMs(0.99)),
        maxMs: round(latency.maxUs / 1000),
      },
      targets: [{ what: 'durable 1:1 msg/s, zero loss', unit: 'msg/s', measured: loss.lost === 0 ? sendsPerSecond : 0, target: 5_000, goal: 16_000, higherIsBetter: true }],
      loss,
      series: seriesPoints(series, from, to),
      histogram: latency.bins(HISTOGRAM_EDGES_MS),
      notes: all.errors.length > 0 ? [`send errors (first ones): ${[...new Set(all.errors)].slice(0, 3).join('; ')}`] : [],
      windows: { sending: windowOf(from, to) },
    };
  } finally {
    await pool.close();
  }
}
