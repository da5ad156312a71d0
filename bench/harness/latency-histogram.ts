// A log-bucketed latency histogram (about 2% relative error), small enough to
// ship between processes as a sparse object and merge, and the per-second
// series the charts draw. Latencies are in microseconds.

/** Bucket k holds values in [GROWTH^k, GROWTH^(k+1)) microseconds; 1 µs to about 30 minutes in ~1,100 buckets. */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);

export type SparseBuckets = Record<number, number>;

export class LatencyHistogram {
  readonly buckets: SparseBuckets = {};
  count = 0;
  maxUs = 0;

  record(latencyUs: number): void {
    const index = latencyUs < 1 ? 0 : Math.floor(Math.log(latencyUs) / LOG_GROWTH);
    this.buckets[index] = (this.buckets[index] ?? 0) + 1;
    this.count += 1;
    if (latencyUs > this.maxUs) this.maxUs = latencyUs;
  }

  merge(other: { buckets: SparseBuckets; count: number; maxUs: number }): void {
    for (const [index, n] of Object.entries(other.buckets)) this.buckets[Number(index)] = (this.buckets[Number(index)] ?? 0) + n;
    this.count += other.count;
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  /** The latency at quantile `q` (0..1) in milliseconds: the middle of its bucket; 0 when empty. */
  quantileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const index of Object.keys(this.buckets).map(Number).sort((a, b) => a - b)) {
      seen += this.buckets[index]!;
      if (seen >= rank) return Math.min(GROWTH ** (index + 0.5), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  toJSON(): { buckets: SparseBuckets; count: number; maxUs: number } {
    return { buckets: this.buckets, count: this.count, maxUs: this.maxUs };
  }

  /** Counts per display bin of the histogram chart: [lower edge ms, count]. */
  bins(edgesMs: readonly number[]): Array<[number, number]> {
    const counts = edgesMs.map(() => 0);
    for (const [index, n] of Object.entries(this.buckets)) {
      const ms = GROWTH ** (Number(index) + 0.5) / 1000;
      let bin = edgesMs.length - 1;
      while (bin > 0 && ms < edgesMs[bin]!) bin -= 1;
      counts[bin]! += n;
    }
    return edgesMs.map((edge, i) => [edge, counts[i]!]);
  }
}

/** Per-second observations, keyed by whole seconds of the shared monotonic clock. */
export interface SecondSample {
  deliveries: number;
  sendsAcked: number;
  latency: LatencyHistogram;
}

export class PerSecondSeries {
  readonly seconds = new Map<number, SecondSample>();

  at(second: number): SecondSample {
    let sample = this.seconds.get(second);
    if (sample === undefined) {
      sample = { deliveries: 0, sendsAcked: 0, latency: new LatencyHistogram() };
      this.seconds.set(second, sample);
    }
    return sample;
  }

  toJSON(): Array<{ second: number; deliveries: number; sendsAcked: number; latency: ReturnType<LatencyHistogram['toJSON']> }> {
    return [...this.seconds.entries()].map(([second, s]) => ({ second, deliveries: s.deliveries, sendsAcked: s.sendsAcked, latency: s.latency.toJSON() }));
  }

  mergeJSON(samples: ReturnType<PerSecondSeries['toJSON']>): void {
    for (const sample of samples) {
      const mine = this.at(sample.second);
      mine.deliveries += sample.deliveries;
      mine.sendsAcked += sample.sendsAcked;
      mine.latency.merge(sample.latency);
    }
  }
}
