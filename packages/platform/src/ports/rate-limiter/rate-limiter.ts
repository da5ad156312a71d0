// RateLimiter: token buckets keyed by caller (IP, user, phone, ...).
//
// Contract (every adapter passes rate-limiter.contract.ts):
// - A bucket holds at most `capacity` tokens and refills continuously at
//   `refillPerSecond`; a new key starts full.
// - `take` atomically removes `cost` tokens if that many are present and reports
//   allowed; otherwise it removes nothing and reports how long until enough
//   tokens will be there (Number.MAX_SAFE_INTEGER when never: a cost above the
//   capacity, or no refill). Concurrent takes never over-spend a bucket.
// - Buckets of unused keys may be forgotten once full again.

export interface RateLimit {
  capacity: number;
  refillPerSecond: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Tokens left after this take. */
  remaining: number;
  /** When not allowed: milliseconds until the take would succeed. 0 when allowed. */
  retryAfterMs: number;
}

export interface RateLimiter {
  take(key: string, limit: RateLimit, cost?: number): Promise<RateDecision>;
  close(): Promise<void>;
}
