// EphemeralStore in Redis: login nonces, SMS codes and attempt counters that
// every auth instance sees. Each operation is a single Redis command or a
// MULTI, so atomicity comes from Redis itself: GETDEL (Redis >= 6.2) makes
// take-and-delete one step, and Redis never returns a key past its expiry.
// TTLs are sent in milliseconds (PX/PEXPIRE) so fractional seconds are kept
// rather than rejected by EX.
import type { Redis } from 'ioredis';
import { closeRedis, defineRedisScript } from '../redis-connection.js';
import type { EphemeralStore } from './ephemeral-store.js';

export interface RedisEphemeralStoreOptions {
  /** Prepended to every key. "im:ephemeral:" by default. */
  keyPrefix?: string;
  /** Quit the client on close(); true when the store was given its own connection. */
  ownsClient?: boolean;
}

// KEYS[1] the key; ARGV[1] the expected value. Deletes and returns 1 only on an
// exact match, so compare and delete are one step for every client.
const TAKE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

export class RedisEphemeralStore implements EphemeralStore {
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly takeIfEqualScript;

  constructor(private readonly client: Redis, options: RedisEphemeralStoreOptions = {}) {
    this.prefix = options.keyPrefix ?? 'im:ephemeral:';
    this.ownsClient = options.ownsClient ?? false;
    this.takeIfEqualScript = defineRedisScript<number>(client, 'imEphemeralTakeIfEqual', 1, TAKE_IF_EQUAL);
  }

  async put(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.set(this.keyOf(key), value, 'PX', ttlMs(ttlSeconds));
  }

  async putIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return (await this.client.set(this.keyOf(key), value, 'PX', ttlMs(ttlSeconds), 'NX')) === 'OK';
  }

  async take(key: string): Promise<string | undefined> {
    return (await this.client.getdel(this.keyOf(key))) ?? undefined;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(this.keyOf(key))) ?? undefined;
  }

  async takeIfEqual(key: string, expected: string): Promise<boolean> {
    return (await this.takeIfEqualScript([this.keyOf(key)], [expected])) === 1;
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const redisKey = this.keyOf(key);
    // In one transaction: the first INCR creates the counter without expiry,
    // and PEXPIRE NX gives it one then and only then, so later increments do
    // not push the window out. It also heals a counter left without expiry.
    const replies = await this.client.multi().incr(redisKey).pexpire(redisKey, ttlMs(ttlSeconds), 'NX').exec();
    const [error, count] = replies?.[0] ?? [new Error('Redis discarded the increment transaction')];
    if (error) throw error;
    return count as number;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await closeRedis(this.client);
  }

  private keyOf(key: string): string {
    return `${this.prefix}${key}`;
  }
}

/** Seconds to whole milliseconds; Redis rejects a zero or negative expiry. */
function ttlMs(ttlSeconds: number): number {
  const ms = Math.ceil(ttlSeconds * 1000);
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`ephemeral TTL must be a positive number of seconds, got ${ttlSeconds}`);
  return ms;
}
