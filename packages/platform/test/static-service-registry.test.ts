// StaticServiceRegistry against the registry contract, plus what only it does:
// answering from configured addresses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StaticServiceRegistry } from '@im-mesh/platform';
import { waitFor } from '../src/ports/contract-support.js';
import { describeServiceRegistryContract } from '../src/ports/service-registry/service-registry.contract.js';

describeServiceRegistryContract('StaticServiceRegistry', async () => new StaticServiceRegistry());

test('configured addresses (AUTH_ADDRESS, CORE_ADDRESS lists) resolve without registration', async () => {
  const registry = StaticServiceRegistry.fromConfig({
    auth: '127.0.0.1:7001',
    core: '10.0.0.5:7002, 10.0.0.6:7002,',
    connect: undefined,
    edge: '',
  });
  assert.deepEqual(await registry.resolve('auth'), ['127.0.0.1:7001']);
  assert.deepEqual(await registry.resolve('core'), ['10.0.0.5:7002', '10.0.0.6:7002']);
  assert.deepEqual(await registry.resolve('connect'), []);
  assert.deepEqual(await registry.resolve('edge'), []);
  await registry.close();
});

test('this instance registering adds to the configured list; deregistering leaves configuration alone', async () => {
  const registry = new StaticServiceRegistry({ connect: ['127.0.0.1:7003'] });
  const seen: string[][] = [];
  const stop = registry.watch('connect', (addresses) => seen.push(addresses));
  await waitFor('the first report', () => seen.length === 1);
  assert.deepEqual(seen, [['127.0.0.1:7003']]);
  await registry.register({ service: 'connect', id: 'connect-2', address: '127.0.0.1:7013' });
  // Registering a configured address changes nothing, so nothing is reported.
  await registry.register({ service: 'connect', id: 'connect-1', address: '127.0.0.1:7003' });
  await registry.deregister({ service: 'connect', id: 'connect-1', address: '127.0.0.1:7003' });
  await registry.deregister({ service: 'connect', id: 'connect-2', address: '127.0.0.1:7013' });
  assert.deepEqual(seen, [['127.0.0.1:7003'], ['127.0.0.1:7003', '127.0.0.1:7013'], ['127.0.0.1:7003']]);
  assert.deepEqual(await registry.resolve('connect'), ['127.0.0.1:7003']);
  stop();
  await registry.close();
});
