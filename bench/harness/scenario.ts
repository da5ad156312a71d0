// What every scenario gets (the running system, its size options, a progress
// line) and what it hands back (the result file's content).
import type { SystemUnderTest } from './system-under-test.js';

export type Size = 'tiny' | 'real';

export interface ScenarioContext {
  readonly system: SystemUnderTest;
  readonly size: Size;
  /** Measured phase length in ms, when given on the command line (each scenario has its own default). */
  readonly durationMs: number | undefined;
  /** Connection count of connections and reconnect-storm, when given on the command line (--clients). */
  readonly clients: number | undefined;
  /** Offered rates of latency-1to1 in msg/s, when given on the command line (--rates). */
  readonly rates: number[] | undefined;
  /** One progress line (overwritten in place on a terminal). */
  progress(line: string): void;
  /** A line that stays. */
  log(line: string): void;
}

/** A target row of the table, with what this run measured. */
export interface TargetCheck {
  what: string;
  unit: string;
  measured: number;
  /** The first bar ("target") and the goal behind it; `higher` says which way is better. */
  target: number;
  goal: number;
  higherIsBetter: boolean;
}

export interface LossCounts {
  /** Deliveries the receivers should show: acked sends times the recipient's devices. */
  expected: number;
  received: number;
  lost: number;
  /** Shown more than once on one connection (a bus redelivery not deduped). */
  duplicated: number;
  reordered: number;
  /** Received but never acked to the sender (a send that failed or timed out but was stored). */
  unexpected: number;
}

export interface SeriesPoint {
  /** Seconds since the measured phase began. */
  t: number;
  deliveriesPerSecond: number;
  sendsAckedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ScenarioResult {
  scenario: string;
  mode: string;
  size: Size;
  /** The shape of the load: pairs, devices, rates, durations. */
  parameters: Record<string, number | string>;
  /** Named figures (throughput, percentiles, RSS per connection, ...). */
  metrics: Record<string, number>;
  targets: TargetCheck[];
  loss: LossCounts;
  series: SeriesPoint[];
  /** [lower edge in ms, count] bins of every timed delivery. */
  histogram: Array<[number, number]>;
  /** What the scenario measures, when it differs from the wording, and anything odd seen. */
  notes: string[];
  /**
   * The measured phases on the monotonic clock (ns, as decimal strings), which
   * is also the clock of V8's CPU profiles: `bench/profile-summary.ts --window`
   * keeps only the samples of one phase (a whole-run profile is mostly logins).
   */
  windows?: Record<string, { fromNs: string; toNs: string }>;
}

/** A measured phase as ScenarioResult.windows holds it. */
export function windowOf(from: bigint, to: bigint): { fromNs: string; toNs: string } {
  return { fromNs: from.toString(), toNs: to.toString() };
}

export type Scenario = (context: ScenarioContext) => Promise<ScenarioResult>;

/** The measured length: the command line's, else the scenario's default at this size. */
export function durationOf(context: ScenarioContext, realMs: number, tinyMs: number): number {
  return context.durationMs ?? (context.size === 'real' ? realMs : tinyMs);
}

/** Every target met (used for the summary's check marks). */
export function met(check: TargetCheck, bar: 'target' | 'goal'): boolean {
  const limit = bar === 'target' ? check.target : check.goal;
  return check.higherIsBetter ? check.measured >= limit : check.measured <= limit;
}
