// The contract of presence-registry.ts as a test suite every adapter runs:
// `describePresenceRegistryContract('Redis', () => openRedisPresence(...))`.
// Expiry is checked with 1-second TTLs and real waits, because a Redis adapter
// cannot take an injected clock. Every test uses fresh user ids.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sleep, uniqueName, withAdapter } from '../contract-support.js';
import type { DeviceRoute, PresenceRegistry } from './presence-registry.js';

const LONG_TTL = 60;

export function describePresenceRegistryContract(name: string, open: () => Promise<PresenceRegistry>): void {
  const route = (overrides: Partial<DeviceRoute> = {}): DeviceRoute => ({
    userId: uniqueName('user'),
    deviceId: 'phone',
    nodeId: 'connect-1',
    connectionId: uniqueName('conn'),
    epoch: 1_000,
    ...overrides,
  });

  describe(`PresenceRegistry contract: ${name}`, () => {
    test('a registered device is routed to its node and connection', withAdapter(open, async (presence) => {
      const phone = route();
      assert.equal(await presence.register(phone, LONG_TTL), true);
      const routes = await presence.routesOf([phone.userId]);
      assert.deepEqual(routes.get(phone.userId), [phone]);
    }));

    test('every device of a user has its own route; users with none are absent', withAdapter(open, async (presence) => {
      const phone = route();
      const laptop = route({ userId: phone.userId, deviceId: 'laptop', nodeId: 'connect-2' });
      const offline = uniqueName('user');
      await presence.register(phone, LONG_TTL);
      await presence.register(laptop, LONG_TTL);
      const routes = await presence.routesOf([phone.userId, offline]);
      const devices = (routes.get(phone.userId) ?? []).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
      assert.deepEqual(devices, [laptop, phone]);
      assert.equal(routes.has(offline), false);
      assert.equal(routes.size, 1);
    }));

    test('a newer connection of the device replaces the older route', withAdapter(open, async (presence) => {
      const first = route({ epoch: 1_000 });
      const second = route({ userId: first.userId, nodeId: 'connect-2', epoch: 2_000 });
      await presence.register(first, LONG_TTL);
      assert.equal(await presence.register(second, LONG_TTL), true);
      assert.deepEqual((await presence.routesOf([first.userId])).get(first.userId), [second]);
    }));

    test('a stale or equal epoch loses and leaves the newer route in place (paused node)', withAdapter(open, async (presence) => {
      const current = route({ epoch: 2_000 });
      await presence.register(current, LONG_TTL);
      const stale = route({ userId: current.userId, nodeId: 'connect-paused', epoch: 1_000 });
      const tie = route({ userId: current.userId, nodeId: 'connect-tie', epoch: 2_000 });
      assert.equal(await presence.register(stale, LONG_TTL), false);
      assert.equal(await presence.register(tie, LONG_TTL), false);
      assert.deepEqual((await presence.routesOf([current.userId])).get(current.userId), [current]);
    }));

    test('refresh and unregister from an old connection do not touch its successor', withAdapter(open, async (presence) => {
      const old = route({ epoch: 1_000 });
      const successor = route({ userId: old.userId, epoch: 2_000 });
      await presence.register(old, LONG_TTL);
      await presence.register(successor, LONG_TTL);
      assert.equal(await presence.refresh(old.userId, old.deviceId, old.connectionId, LONG_TTL), false);
      await presence.unregister(old.userId, old.deviceId, old.connectionId);
      assert.deepEqual((await presence.routesOf([old.userId])).get(old.userId), [successor]);
    }));

    test('unregister by the current connection takes the device offline', withAdapter(open, async (presence) => {
      const phone = route();
      await presence.register(phone, LONG_TTL);
      await presence.unregister(phone.userId, phone.deviceId, phone.connectionId);
      assert.equal((await presence.routesOf([phone.userId])).has(phone.userId), false);
      // Idempotent: a second close of the same connection is harmless.
      await presence.unregister(phone.userId, phone.deviceId, phone.connectionId);
      assert.equal(await presence.refresh(phone.userId, phone.deviceId, phone.connectionId, LONG_TTL), false);
    }));

    test('a route expires after its TTL unless refreshed by heartbeats', withAdapter(open, async (presence) => {
      const silent = route();
      const beating = route();
      await presence.register(silent, 1);
      await presence.register(beating, 1);
      await sleep(600);
      assert.equal(await presence.refresh(beating.userId, beating.deviceId, beating.connectionId, 1), true);
      await sleep(600);
      // 1.2 s after registering: the silent route is gone, the refreshed one lives.
      const routes = await presence.routesOf([silent.userId, beating.userId]);
      assert.equal(routes.has(silent.userId), false, 'an unrefreshed route outlived its TTL');
      assert.deepEqual(routes.get(beating.userId), [beating]);
      assert.equal(await presence.refresh(silent.userId, silent.deviceId, silent.connectionId, 1), false);
      await sleep(600);
      assert.equal((await presence.routesOf([beating.userId])).has(beating.userId), false);
    }));

    test('after a route expired, the device can register again with any epoch', withAdapter(open, async (presence) => {
      const dead = route({ epoch: 5_000 });
      await presence.register(dead, 1);
      await sleep(1_200);
      const next = route({ userId: dead.userId, nodeId: 'connect-2', epoch: 1_000 });
      assert.equal(await presence.register(next, LONG_TTL), true);
      assert.deepEqual((await presence.routesOf([dead.userId])).get(dead.userId), [next]);
    }));

    test('routesOf with no users, or unknown users, returns an empty map', withAdapter(open, async (presence) => {
      assert.equal((await presence.routesOf([])).size, 0);
      assert.equal((await presence.routesOf([uniqueName('nobody')])).size, 0);
    }));
  });
}
