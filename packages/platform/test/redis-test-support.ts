// Shared by the Redis adapter tests: a connection to the Redis on this machine
// (127.0.0.1:6379, or TEST_REDIS_URL / REDIS_URL) and a key prefix no other
// test run uses, removed afterwards. Tests never FLUSHALL the shared server,
// and a missing Redis fails the test with the command that starts it.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { closeRedis, DEFAULT_REDIS_URL, openRedis, redactRedisUrl } from '../src/ports/redis-connection.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;

const START_COMMAND =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

/** A fresh client to the test Redis; one per simulated node. */
export async function openTestRedis(connectionName = 'im-test'): Promise<Redis> {
  try {
    return await openRedis({ url: TEST_REDIS_URL, connectionName, connectTimeoutMs: 2_000 });
  } catch (error) {
    throw new Error(
      `These tests need Redis at ${redactRedisUrl(TEST_REDIS_URL)} (set TEST_REDIS_URL to use another). ` +
        `Start it with: ${START_COMMAND}. Cause: ${(error as Error).message}`,
    );
  }
}

/** "test:<label>:<uuid>:", unique to this run. */
export function testKeyPrefix(label: string): string {
  return `test:${label}:${randomUUID()}:`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS or FLUSHALL). */
export async function deleteKeysUnder(prefix: string): Promise<void> {
  const client = await openTestRedis('im-test-cleanup');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500);
      if (keys.length > 0) await client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await closeRedis(client);
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
