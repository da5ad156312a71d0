// In-process token-bucket RateLimiter for the all-in-one. Buckets are refilled
// lazily on each take; full buckets are swept so idle keys cost nothing.
import type { RateDecision, RateLimit, RateLimiter } from './rate-limiter.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
  limit: RateLimit;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now, sweepIntervalMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  async take(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: limit.capacity, updatedAt: now, limit };
    // A wall clock stepped backwards must not take tokens away.
    const elapsedMs = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(limit.capacity, bucket.tokens + (elapsedMs / 1000) * limit.refillPerSecond);
    bucket.updatedAt = Math.max(now, bucket.updatedAt);
    bucket.limit = limit;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterMs: 0 };
    }
    const missing = cost - bucket.tokens;
    const satisfiable = limit.refillPerSecond > 0 && cost <= limit.capacity;
    const retryAfterMs = satisfiable ? Math.ceil((missing / limit.refillPerSecond) * 1000) : Number.MAX_SAFE_INTEGER;
    return { allowed: false, remaining: Math.floor(bucket.tokens), retryAfterMs };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.buckets.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      const refilled = bucket.tokens + ((now - bucket.updatedAt) / 1000) * bucket.limit.refillPerSecond;
      if (refilled >= bucket.limit.capacity) this.buckets.delete(key);
    }
  }
}
