// The consul:/// grpc-js resolver against a fake Consul HTTP API (no Consul
// binary can run here): a nice-grpc client dials consul:///<service> through
// platform's openChannel (round_robin) and reaches two real gRPC servers made
// with createGrpcServer, following registrations as they change.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { internalV1 } from '@im-mesh/contracts';
import {
  ConsulServiceRegistry,
  createGrpcServer,
  createLogger,
  createServiceClient,
  openChannel,
  registerConsulResolver,
  StaticServiceRegistry,
  type GrpcServer,
} from '@im-mesh/platform';
import { Status } from 'nice-grpc';
import { uniqueName, waitFor } from '../src/ports/contract-support.js';
import { FakeConsul } from './fake-consul.js';

const logger = createLogger({ service: 'consul-resolver-test', level: 'silent' });

/** A KeyService that answers with its own name, so calls show which instance served them. */
async function startNamedServer(name: string): Promise<{ server: GrpcServer; address: string }> {
  const server = createGrpcServer({ logger });
  server.add(internalV1.KeyServiceDefinition, { getJwks: async () => ({ jwksJson: name }) });
  const port = await server.listen('127.0.0.1', 0);
  return { server, address: `127.0.0.1:${port}` };
}

describe('consul:/// channels against a fake Consul HTTP API (no Consul binary here)', () => {
  let fake: FakeConsul;
  before(async () => {
    fake = await FakeConsul.start();
  });
  after(async () => {
    await fake.stop();
  });

  test('a client dialing consul:///<service> alternates between two servers and follows a deregistration', async () => {
    const service = uniqueName('core');
    const a = await startNamedServer('core-a');
    const b = await startNamedServer('core-b');
    const instanceA = { service, id: uniqueName('core-a'), address: a.address };
    const instanceB = { service, id: uniqueName('core-b'), address: b.address };
    // Each server process announces itself; the client process only discovers.
    const announcer = new ConsulServiceRegistry({ url: fake.url });
    const discovery = new ConsulServiceRegistry({ url: fake.url, waitMs: 5_000, minQueryIntervalMs: 0 });
    const uninstall = registerConsulResolver(discovery);
    const channel = openChannel(`consul:///${service}`);
    const keys = createServiceClient(internalV1.KeyServiceDefinition, channel.channel);
    const served = async (calls: number): Promise<string[]> => {
      const names: string[] = [];
      for (let i = 0; i < calls; i += 1) names.push((await keys.getJwks({})).jwksJson);
      return names;
    };
    try {
      await announcer.register(instanceA);
      await announcer.register(instanceB);

      // Subchannels connect one by one; once both are ready, round_robin alternates.
      await waitFor('both servers reached', async () => new Set(await served(4)).size === 2);
      const balanced = await served(6);
      assert.equal(balanced.filter((name) => name === 'core-a').length, 3, `not round-robin: ${balanced.join(' ')}`);
      assert.equal(balanced.filter((name) => name === 'core-b').length, 3, `not round-robin: ${balanced.join(' ')}`);

      await announcer.deregister(instanceA);
      await waitFor('traffic left the withdrawn instance', async () => (await served(4)).every((name) => name === 'core-b'));
      assert.deepEqual(await served(6), Array(6).fill('core-b'));

      // core-a is still up: the switch came from discovery, not from a failure.
      const direct = openChannel(a.address);
      try {
        const viaAddress = await createServiceClient(internalV1.KeyServiceDefinition, direct.channel).getJwks({});
        assert.equal(viaAddress.jwksJson, 'core-a');
      } finally {
        direct.close();
      }

      await announcer.register(instanceA);
      await waitFor('the returning instance gets traffic again', async () => (await served(4)).includes('core-a'));
    } finally {
      channel.close();
      uninstall();
      await announcer.close();
      await discovery.close();
      await a.server.shutdown();
      await b.server.shutdown();
    }
  });

  test('when every instance is withdrawn, calls fail fast as UNAVAILABLE naming the service, until one returns', async () => {
    const service = uniqueName('auth');
    const only = await startNamedServer('auth-a');
    const instance = { service, id: uniqueName('auth-a'), address: only.address };
    const registry = new ConsulServiceRegistry({ url: fake.url, waitMs: 5_000, minQueryIntervalMs: 0 });
    const uninstall = registerConsulResolver(registry);
    const channel = openChannel(`consul:///${service}`);
    const keys = createServiceClient(internalV1.KeyServiceDefinition, channel.channel);
    try {
      await registry.register(instance);
      assert.equal((await keys.getJwks({})).jwksJson, 'auth-a');
      await registry.deregister(instance);
      await waitFor('calls are refused', async () => {
        const outcome = await keys.getJwks({}, { deadline: 1_000 }).then(
          () => undefined,
          (error: { code?: Status; details?: string }) => error,
        );
        if (!outcome) return false;
        assert.equal(outcome.code, Status.UNAVAILABLE);
        assert.match(outcome.details ?? '', new RegExp(`no healthy instance of "${service}"`));
        return true;
      });
      await registry.register(instance);
      await waitFor('the channel recovers when an instance returns', async () =>
        keys.getJwks({}, { deadline: 1_000 }).then(
          (answer) => answer.jwksJson === 'auth-a',
          () => false,
        ),
      );
    } finally {
      channel.close();
      uninstall();
      await registry.close();
      await only.server.shutdown();
    }
  });

  test('any ServiceRegistry can back consul:/// targets, and a bad target fails with a readable status', async () => {
    const server = await startNamedServer('connect-a');
    const uninstall = registerConsulResolver(new StaticServiceRegistry({ connect: [server.address] }));
    const good = openChannel('consul:///connect');
    const bad = openChannel('consul:///not/a/service');
    try {
      const keys = createServiceClient(internalV1.KeyServiceDefinition, good.channel);
      assert.equal((await keys.getJwks({})).jwksJson, 'connect-a');
      await assert.rejects(createServiceClient(internalV1.KeyServiceDefinition, bad.channel).getJwks({}, { deadline: 2_000 }), {
        code: Status.UNAVAILABLE,
        details: /is not a service name/,
      });
    } finally {
      good.close();
      bad.close();
      uninstall();
      await server.server.shutdown();
    }
  });
});
