// Fault scenario (e): presence routes lost from Redis in the middle of a send
// storm. Only this run's users' keys are touched: the Redis server is shared, so
// no FLUSHALL and no restart of the real server.
// - flushed: the users' presence keys are deleted;
// - restarted: every service's Redis connection goes through a FaultProxy, which
//   resets them and refuses new ones for 5 s while the keys are deleted, as a
//   Redis restart without persistence would look.
// Until the next heartbeat re-registers the routes, the outbox relay finds the
// recipients offline (or cannot ask) and skips or retries the push; devices fill
// the gap by sync when the next push arrives. Routes must come back by
// themselves and nothing acked may be lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openRedis, RedisPresenceRegistry } from '@im-mesh/platform';
import type { Fleet } from './support/fleet.js';
import { runFaultScenario } from './support/scenario.js';
import type { SplitSystem } from './support/split-system.js';
import { ringSenders, runStorm, sleep, until } from './support/storm.js';

/** The adapter's default key prefix (redis-presence-registry.ts). */
const PRESENCE_KEY_PREFIX = 'im:presence:';

type Redis = Awaited<ReturnType<typeof openRedis>>;

async function presenceLost(label: string, redisProxy: boolean, lose: (redis: Redis, keys: string[], system: SplitSystem) => Promise<void>): Promise<void> {
  // The test's own connection goes straight to Redis, not through the proxy.
  const redis = await openRedis({ connectionName: `fault-test-${label}` });
  const presence = new RedisPresenceRegistry(redis);
  try {
    await runFaultScenario({ label, redisProxy }, async ({ system, fleet, history }) => {
      const routeCount = async (of: Fleet) => [...(await presence.routesOf(of.users.map((user) => user.userId))).values()].flat().length;
      assert.equal(await routeCount(fleet), fleet.devices.size, 'every device has a route before the fault');
      const storm = runStorm(history, ringSenders(fleet), { durationMs: 12_000, intervalMs: 150 });
      await sleep(3_000);
      history.mark('fault');
      await lose(redis, fleet.users.map((user) => `${PRESENCE_KEY_PREFIX}${user.userId}`), system);
      const backMs = await until('every device to have a route again', async () => (await routeCount(fleet)) === fleet.devices.size, 20_000);
      history.mark('healed');
      console.log(`[fault-history] ${label}: all ${fleet.devices.size} routes were back ${backMs} ms after the fault ended`);
      await storm;
    });
  } finally {
    redis.disconnect();
  }
}

test('presence routes flushed from Redis under a send storm: routes come back on the next heartbeat and nothing is lost', async () => {
  await presenceLost('presence_flushed', false, async (redis, keys) => {
    assert.equal(await redis.del(...keys), keys.length, 'each user had a presence key to delete');
  });
});

test('Redis restarted without persistence under a send storm (5 s unreachable, routes gone): routes come back and nothing is lost', async () => {
  await presenceLost('redis_restarted', true, async (redis, keys, system) => {
    const proxy = system.redisProxy!;
    proxy.refuse();
    proxy.resetAll();
    await redis.del(...keys);
    await sleep(5_000);
    proxy.heal();
  });
});
