// RedisPresenceRegistry against the presence contract, plus what only a shared
// Redis shows: several connect nodes (one client each) agreeing on routes, and
// a paused node that wakes up late losing to the newer route.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisPresenceRegistry, closeRedis, type DeviceRoute } from '@im-mesh/platform';
import { uniqueName } from '../src/ports/contract-support.js';
import { describePresenceRegistryContract } from '../src/ports/presence/presence-registry.contract.js';
import { deleteKeysUnder, openTestRedis, testKeyPrefix } from './redis-test-support.js';

const prefix = testKeyPrefix('presence');
after(() => deleteKeysUnder(prefix));

describePresenceRegistryContract(
  'RedisPresenceRegistry',
  async () => new RedisPresenceRegistry(await openTestRedis(), { keyPrefix: prefix, ownsClient: true }),
);

describe('RedisPresenceRegistry across connect nodes', () => {
  /** Two nodes, each with its own connection, as two connect processes would have. */
  async function twoNodes(): Promise<{ one: RedisPresenceRegistry; two: RedisPresenceRegistry; close(): Promise<void> }> {
    const one = new RedisPresenceRegistry(await openTestRedis('connect-1'), { keyPrefix: prefix, ownsClient: true });
    const two = new RedisPresenceRegistry(await openTestRedis('connect-2'), { keyPrefix: prefix, ownsClient: true });
    return { one, two, close: async () => void (await Promise.all([one.close(), two.close()])) };
  }

  const route = (overrides: Partial<DeviceRoute>): DeviceRoute => ({
    userId: uniqueName('user'),
    deviceId: 'phone',
    nodeId: 'connect-1',
    connectionId: uniqueName('conn'),
    epoch: 1_000,
    ...overrides,
  });

  test('a user with devices on two nodes is routed to both, whichever node asks', async () => {
    const nodes = await twoNodes();
    try {
      const phone = route({ nodeId: 'connect-1' });
      const laptop = route({ userId: phone.userId, deviceId: 'laptop', nodeId: 'connect-2' });
      assert.equal(await nodes.one.register(phone, 60), true);
      assert.equal(await nodes.two.register(laptop, 60), true);
      for (const asker of [nodes.one, nodes.two]) {
        const devices = ((await asker.routesOf([phone.userId])).get(phone.userId) ?? []).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
        assert.deepEqual(devices, [laptop, phone]);
      }
      // A close on node 2 takes only its own device offline.
      await nodes.two.unregister(laptop.userId, laptop.deviceId, laptop.connectionId);
      assert.deepEqual((await nodes.one.routesOf([phone.userId])).get(phone.userId), [phone]);
    } finally {
      await nodes.close();
    }
  });

  test('a paused node that wakes after its device moved cannot take the route back', async () => {
    const nodes = await twoNodes();
    try {
      // Node 1 accepted the phone, then froze (SIGSTOP) before writing. The phone
      // reconnected to node 2, which registered a newer epoch. Node 1 resumes and
      // finally sends its register, heartbeat and close.
      const paused = route({ nodeId: 'connect-1', epoch: 1_700_000_000_000 });
      const current = route({ userId: paused.userId, nodeId: 'connect-2', epoch: 1_700_000_030_000 });
      assert.equal(await nodes.two.register(current, 60), true);
      assert.equal(await nodes.one.register(paused, 60), false, 'the stale epoch overwrote the newer route');
      assert.equal(await nodes.one.refresh(paused.userId, paused.deviceId, paused.connectionId, 60), false);
      await nodes.one.unregister(paused.userId, paused.deviceId, paused.connectionId);
      assert.deepEqual((await nodes.one.routesOf([paused.userId])).get(paused.userId), [current]);
      assert.equal(await nodes.two.refresh(current.userId, current.deviceId, current.connectionId, 60), true);
    } finally {
      await nodes.close();
    }
  });

  test('racing registrations of one device from two nodes leave the highest epoch', async () => {
    const nodes = await twoNodes();
    try {
      const userId = uniqueName('user');
      const attempts = Array.from({ length: 40 }, (_, i) => route({ userId, nodeId: `connect-${(i % 2) + 1}`, epoch: 1_000 + ((i * 17) % 40) }));
      const winner = attempts.reduce((best, r) => (r.epoch > best.epoch ? r : best));
      await Promise.all(attempts.map((r, i) => (i % 2 === 0 ? nodes.one : nodes.two).register(r, 60)));
      assert.deepEqual((await nodes.two.routesOf([userId])).get(userId), [winner]);
    } finally {
      await nodes.close();
    }
  });
});

describe('RedisPresenceRegistry storage', () => {
  async function withClient(body: (registry: RedisPresenceRegistry, raw: Redis) => Promise<void>): Promise<void> {
    const raw = await openTestRedis();
    const registry = new RedisPresenceRegistry(raw, { keyPrefix: prefix });
    try {
      await body(registry, raw);
    } finally {
      await registry.close();
      await closeRedis(raw);
    }
  }

  test('routes of 500 users, 250 of them online, come back from one lookup', () =>
    withClient(async (registry) => {
      const users = Array.from({ length: 500 }, () => uniqueName('member'));
      const online = users.filter((_, i) => i % 2 === 0);
      await Promise.all(online.map((userId, i) => registry.register(route(userId, i), 60)));
      const routes = await registry.routesOf(users);
      assert.equal(routes.size, 250);
      online.forEach((userId, i) => assert.deepEqual(routes.get(userId), [route(userId, i)]));
    }));

  test("a user's key lives as long as its longest-lived device and goes with the last one", () =>
    withClient(async (registry, raw) => {
      const phone = route(uniqueName('user'), 1);
      const laptop = { ...route(phone.userId, 2), deviceId: 'laptop' };
      await registry.register(phone, 5);
      await registry.register(laptop, 30);
      const ttl = await raw.pttl(`${prefix}${phone.userId}`);
      assert.ok(ttl > 25_000 && ttl <= 30_000, `key TTL was ${ttl} ms`);
      await registry.unregister(laptop.userId, laptop.deviceId, laptop.connectionId);
      const shorter = await raw.pttl(`${prefix}${phone.userId}`);
      assert.ok(shorter > 0 && shorter <= 5_000, `key TTL after the laptop left was ${shorter} ms`);
      await registry.unregister(phone.userId, phone.deviceId, phone.connectionId);
      assert.equal(await raw.exists(`${prefix}${phone.userId}`), 0, 'an empty user key was left behind');
    }));

  function route(userId: string, n: number): DeviceRoute {
    return { userId, deviceId: 'phone', nodeId: `connect-${n % 3}`, connectionId: `conn-${userId}`, epoch: 1_000 + n };
  }
});
