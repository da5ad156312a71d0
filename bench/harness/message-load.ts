// The building blocks the message scenarios share: open receivers over the
// worker pool, drive sends with a plan, wait until the pushes have drained, and
// turn the workers' counters into loss counts, a per-second series and a
// histogram (scenario.ts types).
import { LatencyHistogram, PerSecondSeries } from './latency-histogram.js';
import { monotonicNs, type CollectResult, type ReceiverSpec, type SendPlan, type SendResult, type SenderSpec } from './load-protocol.js';
import type { LossCounts, ScenarioContext, SeriesPoint } from './scenario.js';
import type { WorkerPool } from './worker-pool.js';

/** Histogram bins of the chart, in ms (log-spaced). */
export const HISTOGRAM_EDGES_MS = [0, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000];

/**
 * Opens every receiver (split over the workers); throws if any failed, with the
 * first errors. `syncAfterOpen`: see WorkerCommand 'open'.
 */
export async function openReceivers(context: ScenarioContext, pool: WorkerPool, receivers: ReceiverSpec[], concurrency = 100, syncAfterOpen = false): Promise<void> {
  const slices = pool.split(receivers);
  const ticker = setInterval(() => context.progress(`  connecting: ${pool.totals().open}/${receivers.length} open`), 1_000);
  try {
    const results = await Promise.all(
      pool.workers.map((worker, i) => worker.call({ type: 'open', receivers: slices[i]!, concurrency, syncAfterOpen }, 'opened')),
    );
    const failed = results.reduce((sum, reply) => sum + reply.result.failed, 0);
    if (failed > 0) {
      throw new Error(`${failed} of ${receivers.length} connections failed to open: ${results.flatMap((reply) => reply.result.errors).slice(0, 5).join('; ')}`);
    }
  } finally {
    clearInterval(ticker);
  }
}

/** Runs `plan` on every worker with its share of `senders`; merges the results. */
export async function runSends(context: ScenarioContext, pool: WorkerPool, senders: SenderSpec[], plan: SendPlan, label: string): Promise<SendResult> {
  // An open-loop rate is split over the workers that got senders.
  const slices = pool.split(senders);
  const active = slices.filter((slice) => slice.length > 0).length;
  const startedAt = Date.now();
  const before = pool.totals();
  const ticker = setInterval(() => {
    const now = pool.totals();
    const seconds = (Date.now() - startedAt) / 1000;
    context.progress(
      `  ${label}: ${seconds.toFixed(0)} s, sent ${now.sendsOk - before.sendsOk} ok / ${now.sendsFailed - before.sendsFailed} failed, delivered ${now.deliveries - before.deliveries}`,
    );
  }, 1_000);
  try {
    const replies = await Promise.all(
      pool.workers.map((worker, i) => {
        const slice = slices[i]!;
        if (slice.length === 0) return Promise.resolve(undefined);
        const share: SendPlan = plan.kind === 'open' ? { ...plan, ratePerSecond: plan.ratePerSecond / active } : plan;
        return worker.call({ type: 'send', senders: slice, plan: share }, 'sent');
      }),
    );
    const merged = noSends();
    for (const reply of replies) if (reply !== undefined) addSends(merged, reply.result);
    return merged;
  } finally {
    clearInterval(ticker);
  }
}

/** A SendResult of nothing sent yet, to add phases into. */
export function noSends(): SendResult {
  return { ok: 0, failed: 0, shed: 0, errors: [], ackedPerConversation: {}, recipientOf: {}, ackedFromReceiver: {} };
}

/** Adds `more` into `into` (several workers, or several send phases on the same receivers). */
export function addSends(into: SendResult, more: SendResult): void {
  into.ok += more.ok;
  into.failed += more.failed;
  into.shed += more.shed;
  into.errors.push(...more.errors);
  addCounts(into.ackedPerConversation, more.ackedPerConversation);
  Object.assign(into.recipientOf, more.recipientOf);
  for (const [receiverId, counts] of Object.entries(more.ackedFromReceiver)) addCounts((into.ackedFromReceiver[Number(receiverId)] ??= {}), counts);
}

function addCounts(into: Record<string, number>, more: Record<string, number>): void {
  for (const [key, n] of Object.entries(more)) into[key] = (into[key] ?? 0) + n;
}

/**
 * Waits until the receivers hold `expected` deliveries or nothing new arrived
 * for `quietMs` (bounded by `maxMs`): the pushes of the last sends still travel.
 */
export async function waitForDrain(context: ScenarioContext, pool: WorkerPool, expected: number, quietMs = 5_000, maxMs = 60_000): Promise<void> {
  const startedAt = Date.now();
  let last = -1;
  let lastChangeAt = Date.now();
  while (Date.now() - startedAt < maxMs) {
    await new Promise((done) => setTimeout(done, 1_100));
    const delivered = pool.totals().deliveries;
    context.progress(`  draining: ${delivered}/${expected} delivered`);
    if (delivered >= expected) return;
    if (delivered !== last) {
      last = delivered;
      lastChangeAt = Date.now();
    } else if (Date.now() - lastChangeAt >= quietMs) return;
  }
}

export async function collectAll(pool: WorkerPool): Promise<CollectResult[]> {
  const replies = await Promise.all(pool.workers.map((worker) => worker.call({ type: 'collect' }, 'collected')));
  return replies.map((reply) => reply.result);
}

/**
 * Loss counts: each receiver device should hold exactly the acked sends of the
 * conversations that go to its user: a direct conversation's recipient, or
 * every member of a group in `groupMembers` (group id to member user ids), less
 * the sends the device made itself, which the server does not push back to it.
 */
export function lossOf(
  receivers: ReceiverSpec[],
  sends: SendResult,
  collected: CollectResult[],
  groupMembers: ReadonlyMap<string, readonly string[]> = new Map(),
): LossCounts {
  const expectedPerUser = new Map<string, number>();
  for (const [conversation, n] of Object.entries(sends.ackedPerConversation)) {
    const recipient = sends.recipientOf[conversation];
    const audience = groupMembers.get(conversation) ?? (recipient === undefined ? undefined : [recipient]);
    // A group missing from `groupMembers` would silently expect nothing of anyone.
    if (audience === undefined) throw new Error(`lossOf: sends were acked in ${conversation}, but who receives them was not given`);
    for (const user of audience) expectedPerUser.set(user, (expectedPerUser.get(user) ?? 0) + n);
  }
  const receivedById = new Map<number, Record<string, number>>();
  for (const part of collected) for (const [id, counts] of Object.entries(part.received)) receivedById.set(Number(id), counts);
  const loss: LossCounts = { expected: 0, received: 0, lost: 0, duplicated: 0, reordered: 0, unexpected: 0 };
  for (const receiver of receivers) {
    const ownSends = Object.values(sends.ackedFromReceiver[receiver.id] ?? {}).reduce((sum, n) => sum + n, 0);
    const expected = (expectedPerUser.get(receiver.userId) ?? 0) - ownSends;
    const received = Object.values(receivedById.get(receiver.id) ?? {}).reduce((sum, n) => sum + n, 0);
    loss.expected += expected;
    loss.received += received;
    loss.lost += Math.max(0, expected - received);
    loss.unexpected += Math.max(0, received - expected);
  }
  for (const part of collected) {
    loss.duplicated += part.duplicates;
    loss.reordered += part.reordered;
  }
  return loss;
}

/** The workers' per-second samples merged, restricted to [fromNs, toNs) of the shared clock. */
export function mergedSeries(collected: CollectResult[]): PerSecondSeries {
  const series = new PerSecondSeries();
  for (const part of collected) series.mergeJSON(part.series);
  return series;
}

/** The series points of one phase, `t` counted from its start. */
export function seriesPoints(series: PerSecondSeries, fromNs: bigint, toNs: bigint): SeriesPoint[] {
  const first = Number(fromNs / 1_000_000_000n);
  const last = Number(toNs / 1_000_000_000n);
  const points: SeriesPoint[] = [];
  for (let second = first; second <= last; second += 1) {
    const sample = series.seconds.get(second);
    points.push({
      t: second - first,
      deliveriesPerSecond: sample?.deliveries ?? 0,
      sendsAckedPerSecond: sample?.sendsAcked ?? 0,
      p50Ms: round(sample?.latency.quantileMs(0.5) ?? 0),
      p99Ms: round(sample?.latency.quantileMs(0.99) ?? 0),
    });
  }
  return points;
}

/** Every timed delivery whose arrival second lies in [fromNs, toNs], merged into one histogram. */
export function latencyBetween(series: PerSecondSeries, fromNs: bigint, toNs: bigint): LatencyHistogram {
  const histogram = new LatencyHistogram();
  const first = Number(fromNs / 1_000_000_000n);
  const last = Number(toNs / 1_000_000_000n);
  for (const [second, sample] of series.seconds) if (second >= first && second <= last) histogram.merge(sample.latency);
  return histogram;
}

/** Deliveries per second over the whole seconds strictly inside [fromNs, toNs] (the partial edges are left out). */
export function ratePerSecond(series: PerSecondSeries, fromNs: bigint, toNs: bigint, field: 'deliveries' | 'sendsAcked'): number {
  const first = Number(fromNs / 1_000_000_000n) + 1;
  const last = Number(toNs / 1_000_000_000n) - 1;
  if (last < first) {
    // Shorter than two whole seconds (tiny runs): count everything over the exact span.
    let total = 0;
    for (const [second, sample] of series.seconds) if (second >= first - 1 && second <= last + 1) total += sample[field];
    return round(total / (Number(toNs - fromNs) / 1e9));
  }
  let total = 0;
  for (let second = first; second <= last; second += 1) total += series.seconds.get(second)?.[field] ?? 0;
  return round(total / (last - first + 1));
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export { monotonicNs };
