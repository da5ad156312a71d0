// Opens the ioredis client the Redis adapters share (presence, rate limits,
// nonces and codes), with options that fail fast instead of queueing forever:
// a messaging node that cannot reach Redis should answer "try again" quickly,
// not hold every request until a reconnect that may never come.
import { Redis, type RedisOptions } from 'ioredis';
import type { ReadinessCheck } from '../ops/ops-http.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisConnectionOptions {
  /** redis:// or rediss:// URL; REDIS_URL or redis://127.0.0.1:6379 when absent. */
  url?: string;
  /** Shown in CLIENT LIST, e.g. "connect-1:presence". */
  connectionName?: string;
  /** Milliseconds to establish the TCP connection. 5,000 by default. */
  connectTimeoutMs?: number;
  /** Milliseconds before a sent command is failed. 5,000 by default. */
  commandTimeoutMs?: number;
  /**
   * Told about connection errors after the first successful connect (the
   * client keeps reconnecting on its own); pass the logger's warn here.
   */
  onError?: (error: Error) => void;
  /** Anything else for ioredis; applied last. */
  extra?: RedisOptions;
}

/** The URL with any password replaced, safe for logs and error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

/**
 * Connects and waits until the server answers. Rejects with a message naming
 * the (redacted) URL and the cause when Redis is unreachable; the half-open
 * client is torn down so no reconnect loop is left behind.
 */
export async function openRedis(options: RedisConnectionOptions = {}): Promise<Redis> {
  const url = options.url ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: options.connectionName,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    // Commands issued while disconnected fail at once rather than piling up in
    // memory; each caller decides whether to retry or degrade.
    enableOfflineQueue: false,
    // A command already written when the connection drops is retried on at
    // most one reconnect, then fails, so a caller never waits unboundedly.
    maxRetriesPerRequest: 1,
    // Reconnect forever, backing off to at most 2 s between attempts: Redis
    // coming back after a restart must heal the node without a redeploy.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    ...options.extra,
  });
  let lastError: Error | undefined;
  const remember = (error: Error): void => {
    lastError = error;
  };
  // An 'error' event without a listener would crash the process; while
  // connecting, the latest one is kept for the message below.
  client.on('error', remember);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    const cause = lastError ?? (error as Error);
    throw new Error(`Redis is not reachable at ${redactRedisUrl(url)}: ${cause.message}`, { cause });
  }
  client.off('error', remember);
  client.on('error', options.onError ?? (() => undefined));
  return client;
}

/**
 * Closes the client politely (QUIT waits for replies already owed) and falls
 * back to dropping the socket when Redis is not there to answer.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    // QUIT cannot be sent while disconnected; dropping the socket is all that is left.
    client.disconnect();
  }
}

/** Resolves when Redis answers PING; rejects with a short reason otherwise. */
export async function pingRedis(client: Redis): Promise<void> {
  const reply = await client.ping();
  if (reply !== 'PONG') throw new Error(`Redis answered PING with ${String(reply)}`);
}

/** A /readyz check for the client, e.g. `readiness: [redisReadiness(client)]`. */
export function redisReadiness(client: Redis, name = 'redis'): ReadinessCheck {
  return { name, check: () => pingRedis(client) };
}

/**
 * Registers a Lua script on the client (EVALSHA, falling back to EVAL when the
 * server's script cache was emptied by a restart) and returns a typed caller.
 * The name must be unique per script text on one client.
 */
export function defineRedisScript<R>(client: Redis, name: string, keyCount: number, lua: string): (keys: readonly string[], args: readonly (string | number)[]) => Promise<R> {
  client.defineCommand(name, { numberOfKeys: keyCount, lua });
  const command = (client as unknown as Record<string, (...params: (string | number)[]) => Promise<R>>)[name];
  if (typeof command !== 'function') throw new Error(`ioredis did not define the script command ${name}`);
  return (keys, args) => command.call(client, ...keys, ...args);
}
