// RateLimiter in Redis: one token bucket per key, shared by every instance.
// Each take is one Lua script, so read-refill-spend-write is atomic however
// many nodes take at once; the refill uses the Redis server clock (TIME), so
// nodes with skewed clocks cannot mint tokens. A bucket is a small hash
// {tokens, at (server microseconds)} whose PEXPIRE is the moment it would be
// full again: an idle key vanishes exactly when forgetting it changes nothing.
import type { Redis } from 'ioredis';
import { closeRedis, defineRedisScript } from '../redis-connection.js';
import type { RateDecision, RateLimit, RateLimiter } from './rate-limiter.js';

export interface RedisRateLimiterOptions {
  /** Prepended to every key. "im:rate:" by default. */
  keyPrefix?: string;
  /**
   * Longest a bucket is kept after its last take, in seconds; one day by
   * default. Only buckets refilling slower than capacity per this period (or
   * not at all) are forgotten before they are full again.
   */
  maxIdleSeconds?: number;
  /** Quit the client on close(); true when the limiter was given its own connection. */
  ownsClient?: boolean;
}

// KEYS[1] bucket; ARGV: capacity, refillPerSecond, cost, maxIdleMs.
// Returns {allowed 0|1, whole tokens left, retryAfterMs or -1 for never}.
const TAKE = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local max_idle_ms = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tokens = capacity
local at = now
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
if state[1] and state[2] then
  tokens = tonumber(state[1])
  at = tonumber(state[2])
  -- A server clock stepped backwards must not take tokens away.
  if now > at then
    tokens = tokens + (now - at) / 1000000 * rate
    at = now
  end
  if tokens > capacity then tokens = capacity end
end
if tokens >= cost then
  tokens = tokens - cost
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.0f', at))
  local ttl = max_idle_ms
  if rate > 0 then
    -- Full again after this long; one extra second keeps rounding on the safe side.
    local full_in = math.ceil((capacity - tokens) / rate * 1000) + 1000
    if full_in < ttl then ttl = full_in end
  end
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
  return {1, math.floor(tokens), 0}
end
-- Refused: nothing is written, the next take recomputes the same refill.
if cost > capacity or rate <= 0 then return {0, math.floor(tokens), -1} end
local wait = math.ceil((cost - tokens) / rate * 1000)
if wait > 9007199254740991 then wait = -1 end
return {0, math.floor(tokens), wait}
`;

export class RedisRateLimiter implements RateLimiter {
  private readonly prefix: string;
  private readonly maxIdleMs: number;
  private readonly ownsClient: boolean;
  private readonly takeScript;

  constructor(private readonly client: Redis, options: RedisRateLimiterOptions = {}) {
    this.prefix = options.keyPrefix ?? 'im:rate:';
    this.maxIdleMs = Math.ceil((options.maxIdleSeconds ?? 86_400) * 1000);
    if (!(this.maxIdleMs > 0)) throw new RangeError('maxIdleSeconds must be positive');
    this.ownsClient = options.ownsClient ?? false;
    this.takeScript = defineRedisScript<[number, number, number]>(client, 'imRateTake', 1, TAKE);
  }

  async take(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    if (!(limit.capacity > 0) || !Number.isFinite(limit.capacity)) throw new RangeError(`rate limit capacity must be positive, got ${limit.capacity}`);
    if (!(limit.refillPerSecond >= 0) || !Number.isFinite(limit.refillPerSecond)) {
      throw new RangeError(`rate limit refill must be zero or more per second, got ${limit.refillPerSecond}`);
    }
    if (!(cost >= 0) || !Number.isFinite(cost)) throw new RangeError(`rate limit cost must be zero or more, got ${cost}`);
    const [allowed, remaining, retryAfterMs] = await this.takeScript(
      [`${this.prefix}${key}`],
      [limit.capacity, limit.refillPerSecond, cost, this.maxIdleMs],
    );
    return {
      allowed: allowed === 1,
      remaining,
      retryAfterMs: retryAfterMs < 0 ? Number.MAX_SAFE_INTEGER : retryAfterMs,
    };
  }

  async close(): Promise<void> {
    if (this.ownsClient) await closeRedis(this.client);
  }
}
