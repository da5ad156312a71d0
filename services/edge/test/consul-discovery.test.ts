// The edge discovering its upstreams through ConsulServiceRegistry, against a
// fake of Consul's HTTP API (no Consul binary can run here; the fake lives with
// the platform's Consul tests and implements the documented endpoints with
// blocking queries). Instances registered in Consul get calls; one whose health
// check turns critical, or that deregisters, stops getting them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { messageV1 } from '@im-mesh/contracts';
import { ConsulServiceRegistry } from '@im-mesh/platform';
import { createChannel, createClient, Metadata, type Channel } from 'nice-grpc';
import { FakeConsul } from '../../../packages/platform/test/fake-consul.js';
import { startCoreInstance, type CoreInstance } from './support/core-instance.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();

async function servedBy(channel: Channel, clientMsgId: string): Promise<string> {
  const sent = await createClient(messageV1.MessageServiceDefinition, channel).sendMessage(
    { target: { $case: 'conversationId', value: 'conv-1' }, clientMsgId, content: undefined },
    { metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}` }), signal: AbortSignal.timeout(5_000) },
  );
  return sent.messageId.split(':')[0] ?? '';
}

/** Sends until the last `run` calls were all served by `instance`; fails after `timeoutMs`. */
async function untilOnlyServedBy(channel: Channel, instance: string, run = 4, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  for (let n = 0; streak < run; n += 1) {
    if (Date.now() > deadline) throw new Error(`calls did not settle on ${instance} within ${timeoutMs} ms`);
    streak = (await servedBy(channel, `settle-${instance}-${n}`)) === instance ? streak + 1 : 0;
    if (streak === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('edge following a Consul registry (against a fake of Consul HTTP API)', () => {
  let fake: FakeConsul;
  let consul: ConsulServiceRegistry;
  let doubles: UpstreamDoubles;
  let coreA: CoreInstance;
  let coreB: CoreInstance;
  let edge: TestEdge;
  let channel: Channel;

  before(async () => {
    const quiet = capturingLogger('doubles', [], 'silent');
    fake = await FakeConsul.start();
    consul = new ConsulServiceRegistry({ url: fake.url, waitMs: 5_000, minQueryIntervalMs: 0 });
    doubles = await startUpstreamDoubles(quiet, issuer);
    coreA = await startCoreInstance('core-a', quiet);
    coreB = await startCoreInstance('core-b', quiet);
    await consul.register({ service: 'auth', id: 'auth-1', address: doubles.addresses.auth });
    await consul.register({ service: 'connect', id: 'node-1', address: doubles.addresses.connect });
    await consul.register({ service: 'connect-ws', id: 'node-1-ws', address: doubles.addresses.connectWs });
    await consul.register({ service: 'core', id: 'core-a', address: coreA.address });
    await consul.register({ service: 'core', id: 'core-b', address: coreB.address });
    edge = await startTestEdge({ registry: consul });
    channel = createChannel(edge.address);
  });
  after(async () => {
    channel.close();
    await edge.stop();
    await consul.close();
    coreA.stop();
    coreB.stop();
    await doubles.stop();
    await fake.stop();
  });

  test('both registered core instances get calls, and /readyz is 200', async () => {
    const served = new Set<string>();
    for (let n = 0; n < 6; n += 1) served.add(await servedBy(channel, `both-${n}`));
    assert.deepEqual([...served].sort(), ['core-a', 'core-b']);
    const ready = await fetch(`${edge.url}/readyz`);
    assert.equal(ready.status, 200, await ready.clone().text());
  });

  test('an instance whose health check turns critical gets no more calls; a deregistered one neither', async () => {
    fake.setCheckStatus('core-b', 'critical');
    await untilOnlyServedBy(channel, 'core-a');
    fake.setCheckStatus('core-b', 'passing');
    await consul.deregister({ service: 'core', id: 'core-a', address: coreA.address });
    await untilOnlyServedBy(channel, 'core-b');
  });
});
