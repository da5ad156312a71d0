// ConsulServiceRegistry against a fake Consul HTTP API (no Consul binary can run
// on this machine; test/fake-consul.ts implements the documented endpoints the
// adapter uses, with blocking-query semantics). The contract suite, then what
// only Consul does: the gRPC health check in the registration, blocking-query
// watches, health filtering, backoff while the agent is away.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ConsulServiceRegistry, createLogger } from '@im-mesh/platform';
import { sleep, uniqueName, waitFor } from '../src/ports/contract-support.js';
import { describeServiceRegistryContract } from '../src/ports/service-registry/service-registry.contract.js';
import { FakeConsul } from './fake-consul.js';

const AGAINST_FAKE = 'against a fake Consul HTTP API (no Consul binary here)';

let fake: FakeConsul;
before(async () => {
  fake = await FakeConsul.start();
});
after(async () => {
  await fake.stop();
});

/** Short waits and no churn limit keep the suite fast; the semantics are the same. */
const open = (url = fake.url) => new ConsulServiceRegistry({ url, waitMs: 5_000, minQueryIntervalMs: 0 });

describeServiceRegistryContract(`ConsulServiceRegistry ${AGAINST_FAKE}`, async () => open());

describe(`ConsulServiceRegistry ${AGAINST_FAKE}`, () => {
  test('an instance registers with a gRPC health check on its own address that Consul drops it after', async () => {
    const registry = new ConsulServiceRegistry({ url: fake.url, checkInterval: '3s', deregisterCriticalAfter: '30s' });
    const instance = { service: uniqueName('core'), id: uniqueName('core-a'), address: '127.0.0.1:17002' };
    try {
      await registry.register(instance);
      assert.deepEqual(fake.registrations.get(instance.id), {
        ID: instance.id,
        Name: instance.service,
        Address: '127.0.0.1',
        Port: 17002,
        Check: {
          Name: `gRPC health of ${instance.id}`,
          GRPC: '127.0.0.1:17002',
          Interval: '3s',
          Timeout: '5s',
          DeregisterCriticalServiceAfter: '30s',
          Status: 'passing',
        },
      });
    } finally {
      await registry.close();
    }
  });

  test('a plain HTTP endpoint (a WebSocket port) registers with an HTTP check on /healthz', async () => {
    const registry = new ConsulServiceRegistry({ url: fake.url });
    const instance = { service: uniqueName('connect-ws'), id: uniqueName('node-1-ws'), address: '127.0.0.1:17083', health: 'http' as const };
    try {
      await registry.register(instance);
      const check = (fake.registrations.get(instance.id) as { Check: Record<string, unknown> }).Check;
      assert.equal(check.HTTP, 'http://127.0.0.1:17083/healthz');
      assert.equal(check.GRPC, undefined);
      assert.equal(check.Name, `HTTP health of ${instance.id}`);
    } finally {
      await registry.close();
    }
  });

  test('an address that is not host:port is refused before Consul is asked', async () => {
    const registry = open();
    try {
      const requests = fake.requests.length;
      await assert.rejects(registry.register({ service: 'core', id: 'core-x', address: 'core.internal' }), /not a host:port address/);
      assert.equal(fake.requests.length, requests);
    } finally {
      await registry.close();
    }
  });

  test('a watch sees an instance appear and disappear within one blocking round each', async () => {
    // A 20 s wait: an answer within a second can only come from the blocking
    // query in flight being woken by the change.
    const registry = new ConsulServiceRegistry({ url: fake.url, waitMs: 20_000, minQueryIntervalMs: 0 });
    const service = uniqueName('connect');
    const instance = { service, id: uniqueName('connect-a'), address: '127.0.0.1:17003' };
    const seen: string[][] = [];
    const stop = registry.watch(service, (addresses) => seen.push(addresses));
    try {
      await waitFor('the first report', () => seen.length === 1);
      assert.deepEqual(seen[0], []);

      for (const [change, expected] of [
        [() => registry.register(instance), [instance.address]],
        [() => registry.deregister(instance), []],
      ] as const) {
        await waitFor('a blocking query hanging', () => fake.blockingInFlight === 1);
        const reports = seen.length;
        const answered = fake.requests.length;
        const startedAt = Date.now();
        await change();
        await waitFor('the change reported', () => seen.length === reports + 1, 1_000);
        assert.deepEqual(seen.at(-1), expected);
        assert.ok(Date.now() - startedAt < 1_000, 'the change waited for the blocking query to time out');
        const rounds = fake.requests.slice(answered).filter((request) => request.path.startsWith('/v1/health/'));
        assert.equal(rounds.length, 1, 'one blocking round carries the change');
        assert.equal(rounds[0]!.outcome, 'changed');
        assert.ok(rounds[0]!.index > 0, 'the round was a blocking query');
      }

      stop();
      await waitFor('the query in flight is aborted', () => fake.blockingInFlight === 0);
      assert.equal(fake.requests.at(-1)?.outcome, 'aborted');
    } finally {
      stop();
      await registry.close();
    }
  });

  test('only instances whose checks all pass resolve; a critical one drops out and comes back', async () => {
    const registry = open();
    const service = uniqueName('core');
    const a = { service, id: uniqueName('core-a'), address: '127.0.0.1:17002' };
    const b = { service, id: uniqueName('core-b'), address: '127.0.0.1:17012' };
    const seen: string[][] = [];
    const stop = registry.watch(service, (addresses) => seen.push(addresses));
    try {
      await registry.register(a);
      await registry.register(b);
      await waitFor('both reported', () => seen.at(-1)?.length === 2);

      fake.setCheckStatus(b.id, 'critical');
      await waitFor('the critical instance is withdrawn', () => seen.at(-1)?.join() === a.address);
      assert.deepEqual(await registry.resolve(service), [a.address]);

      fake.setCheckStatus(b.id, 'passing');
      await waitFor('the recovered instance is back', () => seen.at(-1)?.length === 2);
      assert.deepEqual(await registry.resolve(service), [a.address, b.address].sort());
    } finally {
      stop();
      await registry.close();
    }
  });

  test('an instance registered with initialCheckStatus critical waits for its first passing probe', async () => {
    const registry = new ConsulServiceRegistry({ url: fake.url, initialCheckStatus: 'critical' });
    const instance = { service: uniqueName('auth'), id: uniqueName('auth-a'), address: '127.0.0.1:17001' };
    try {
      await registry.register(instance);
      assert.deepEqual(await registry.resolve(instance.service), []);
      fake.setCheckStatus(instance.id, 'passing');
      assert.deepEqual(await registry.resolve(instance.service), [instance.address]);
    } finally {
      await registry.close();
    }
  });

  test('closing deregisters the instances this process registered', async () => {
    const registry = open();
    const observer = open();
    const instance = { service: uniqueName('core'), id: uniqueName('core-a'), address: '127.0.0.1:17002' };
    try {
      await registry.register(instance);
      assert.deepEqual(await observer.resolve(instance.service), [instance.address]);
      await registry.close();
      assert.deepEqual(await observer.resolve(instance.service), []);
      assert.equal(fake.registrations.has(instance.id), true, 'the instance had registered');
    } finally {
      await registry.close();
      await observer.close();
    }
  });

  test('while the agent is down a watch keeps its list, backs off, and catches up when it returns', async () => {
    const agent = await FakeConsul.start();
    const warnings: Array<{ failures: number; retryInMs: number }> = [];
    const logger = createLogger({
      service: 'consul-test',
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          warnings.push(JSON.parse(chunk.toString('utf8')) as { failures: number; retryInMs: number });
          done();
        },
      }),
    });
    const registry = new ConsulServiceRegistry({ url: agent.url, waitMs: 5_000, minQueryIntervalMs: 0, logger });
    const service = uniqueName('core');
    const a = { service, id: uniqueName('core-a'), address: '127.0.0.1:17002' };
    const b = { service, id: uniqueName('core-b'), address: '127.0.0.1:17012' };
    const seen: string[][] = [];
    const stop = registry.watch(service, (addresses) => seen.push(addresses));
    try {
      await registry.register(a);
      await waitFor('the instance reported', () => seen.at(-1)?.join() === a.address);
      const reports = seen.length;

      await agent.stop();
      await sleep(1_500);
      assert.equal(seen.length, reports, 'an unreachable agent must not empty the list');
      assert.ok(warnings.length >= 1, 'failed queries are logged');
      // Without backoff (and no churn limit here) this would be thousands.
      assert.ok(warnings.length <= 6, `${warnings.length} queries in 1.5 s is not backing off`);
      assert.ok(warnings.at(-1)!.retryInMs > warnings[0]!.retryInMs, 'the pause grows');

      await agent.restart({ keepState: true });
      await registry.register(b);
      await waitFor('the watch caught up', () => seen.at(-1)?.length === 2, 5_000);
    } finally {
      stop();
      await registry.close();
      await agent.stop();
    }
  });
});
