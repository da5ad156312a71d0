// latency-1to1: a fixed offered load (open loop: the schedule does not wait for
// replies) of 1,000 and then 5,000 msg/s spread over 100 pairs, 30 s each.
// Latency runs from the sender's SendMessage call to the receiver's decoded
// frame, on CLOCK_MONOTONIC (harness/load-protocol.ts).
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
import type { ReceiverSpec, SendResult, SenderSpec } from '../harness/load-protocol.js';
import { durationOf, windowOf, type ScenarioContext, type ScenarioResult, type TargetCheck } from '../harness/scenario.js';
import { WorkerPool } from '../harness/worker-pool.js';

export async function latency1to1(context: ScenarioContext): Promise<ScenarioResult> {
  const pairs = context.size === 'real' ? 100 : 5;
  // 100 and 500 show the latency of a system that is not queueing; 1,000 and 5,000 are the issue's.
  const rates = context.rates ?? (context.size === 'real' ? [100, 500, 1_000, 5_000] : [20, 50]);
  const durationMs = durationOf(context, 30_000, 3_000);
  context.log(`  logging in ${pairs * 2} devices`);
  const users = await createUsers(context.system.edgeUrl, 'lat', pairs * 2, 1, (done, total) => context.progress(`  logins ${done}/${total}`));
  const receivers: ReceiverSpec[] = users.slice(pairs).map((user, i) => ({ id: i, userId: user.userId, accessToken: user.devices[0]!.accessToken, url: context.system.edgeWsUrl }));
  const senders: SenderSpec[] = users.slice(0, pairs).map((user, i) => ({ accessToken: user.devices[0]!.accessToken, toUserId: users[pairs + i]!.userId }));
  const pool = await WorkerPool.start(2, context.system.edgeUrl);
  try {
    await openReceivers(context, pool, receivers);
    // Warm-up, not measured: each pair's first message creates its direct conversation.
    const all: SendResult = await runSends(context, pool, senders, { kind: 'count', count: 1, inFlight: 1 }, 'warm-up');
    await waitForDrain(context, pool, all.ok);
    const phases: Array<{ rate: number; from: bigint; to: bigint }> = [];
    for (const rate of rates) {
      const from = monotonicNs();
      addSends(all, await runSends(context, pool, senders, { kind: 'open', ratePerSecond: rate, durationMs }, `${rate} msg/s`));
      const to = monotonicNs();
      await waitForDrain(context, pool, all.ok);
      phases.push({ rate, from, to });
      // Latency is binned by the second a frame arrived, and a phase's window runs
      // 2 s past its last send: without a gap the next phase's first seconds
      // (at a higher rate) would count in this one's percentiles.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    }
    const collected = await collectAll(pool);
    const series = mergedSeries(collected);
    const metrics: Record<string, number> = { sendsAcked: all.ok, sendsFailed: all.failed, sendsShed: all.shed };
    const targets: TargetCheck[] = [];
    for (const phase of phases) {
      // Until the drain ended, so the phase's last sends are in its percentiles.
      const latency = latencyBetween(series, phase.from, phase.to + 2_000_000_000n);
      metrics[`offered${phase.rate}_deliveredPerSecond`] = ratePerSecond(series, phase.from, phase.to, 'deliveries');
      metrics[`offered${phase.rate}_p50Ms`] = round(latency.quantileMs(0.5));
      metrics[`offered${phase.rate}_p99Ms`] = round(latency.quantileMs(0.99));
      metrics[`offered${phase.rate}_maxMs`] = round(latency.maxUs / 1000);
    }
    if (context.size === 'real') {
      if (metrics['offered1000_p99Ms'] !== undefined) {
        targets.push({ what: 'p99 at 1,000 msg/s', unit: 'ms', measured: metrics['offered1000_p99Ms'], target: 20, goal: 5, higherIsBetter: false });
      }
      if (metrics['offered5000_p99Ms'] !== undefined) {
        targets.push({ what: 'p99 at 5,000 msg/s', unit: 'ms', measured: metrics['offered5000_p99Ms'], target: 10, goal: 10, higherIsBetter: false });
      }
    }
    const whole = latencyBetween(series, phases[0]!.from, phases.at(-1)!.to + 2_000_000_000n);
    return {
      scenario: 'latency-1to1',
      mode: context.system.mode,
      size: context.size,
      parameters: { pairs, offeredRates: rates.join(', '), durationPerRateMs: durationMs, receiverPath: 'edge /ws', senderPath: 'edge gRPC SendMessage' },
      metrics,
      targets,
      loss: lossOf(receivers, all, collected),
      series: seriesPoints(series, phases[0]!.from, phases.at(-1)!.to),
      histogram: whole.bins(HISTOGRAM_EDGES_MS),
      notes: [
        'The 5,000 msg/s row has only a goal in the issue (≤ 10 ms); it is shown as both target and goal.',
        ...(all.errors.length > 0 ? [`send errors (first ones): ${[...new Set(all.errors)].slice(0, 3).join('; ')}`] : []),
      ],
      windows: Object.fromEntries(phases.map((phase) => [`offered${phase.rate}`, windowOf(phase.from, phase.to)])),
    };
  } finally {
    await pool.close();
  }
}
