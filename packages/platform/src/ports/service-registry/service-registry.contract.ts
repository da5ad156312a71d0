// The contract of service-registry.ts as a test suite every adapter runs:
// `describeServiceRegistryContract('Consul', () => openConsulRegistry(...))`.
// Registries may answer eventually (Consul's blocking queries), so changes are
// awaited with a timeout. Every test uses fresh service names.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sleep, uniqueName, withAdapter, waitFor } from '../contract-support.js';
import type { ServiceInstance, ServiceRegistry } from './service-registry.js';

export function describeServiceRegistryContract(name: string, open: () => Promise<ServiceRegistry>): void {
  const instance = (service: string, id: string, port: number): ServiceInstance => ({ service, id, address: `127.0.0.1:${port}` });

  describe(`ServiceRegistry contract: ${name}`, () => {
    test('a service nobody announced resolves to no addresses', withAdapter(open, async (registry) => {
      assert.deepEqual(await registry.resolve(uniqueName('svc')), []);
    }));

    test('registered instances resolve until they deregister', withAdapter(open, async (registry) => {
      const service = uniqueName('core');
      const a = instance(service, 'core-a', 17002);
      const b = instance(service, 'core-b', 17012);
      await registry.register(a);
      await registry.register(b);
      await waitFor('both instances resolve', async () => (await registry.resolve(service)).length === 2);
      assert.deepEqual((await registry.resolve(service)).sort(), [a.address, b.address]);
      await registry.deregister(a);
      await waitFor('the withdrawn instance is gone', async () => !(await registry.resolve(service)).includes(a.address));
      assert.deepEqual(await registry.resolve(service), [b.address]);
      await registry.deregister(b);
    }));

    test('register and deregister are idempotent', withAdapter(open, async (registry) => {
      const service = uniqueName('auth');
      const a = instance(service, 'auth-a', 17001);
      await registry.register(a);
      await registry.register(a);
      await waitFor('the instance resolves', async () => (await registry.resolve(service)).length > 0);
      assert.deepEqual(await registry.resolve(service), [a.address]);
      await registry.deregister(a);
      await registry.deregister(a);
      await registry.deregister(instance(service, 'never-registered', 17999));
      await waitFor('the instance is gone', async () => (await registry.resolve(service)).length === 0);
    }));

    test('watch reports the current list first, then every change, until stopped', withAdapter(open, async (registry) => {
      const service = uniqueName('connect');
      const a = instance(service, 'connect-a', 17003);
      await registry.register(a);
      await waitFor('the instance resolves', async () => (await registry.resolve(service)).length === 1);
      const seen: string[][] = [];
      const stop = registry.watch(service, (addresses) => seen.push([...addresses].sort()));
      try {
        await waitFor('the first report', () => seen.length >= 1);
        assert.deepEqual(seen[0], [a.address]);
        const b = instance(service, 'connect-b', 17013);
        await registry.register(b);
        await waitFor('the new instance reported', () => seen.some((list) => list.includes(b.address)));
        assert.deepEqual(seen.at(-1), [a.address, b.address].sort());
        await registry.deregister(a);
        await waitFor('the withdrawal reported', () => seen.at(-1)?.join() === b.address);
        stop();
        const reports = seen.length;
        await registry.deregister(b);
        await sleep(300);
        assert.equal(seen.length, reports, 'a stopped watch was still called');
      } finally {
        stop();
      }
    }));
  });
}
