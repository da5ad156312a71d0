// Rate limits an operator changes while the edge runs: `consul kv put
// im-mesh/settings/edge-rate-limits '{...}'` on a fake of Consul's HTTP API (no
// Consul binary can run here) tightens and then relaxes the per-IP limit of an
// edge that is already serving, without a restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { ConsulLiveSettings } from '@im-mesh/platform';
import { createChannel, createClient, Status } from 'nice-grpc';
import { FakeConsul } from '../../../packages/platform/test/fake-consul.js';
import { EDGE_RATE_LIMITS_SETTING } from '../src/index.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge } from './support/test-edge.js';
import { startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const PREFIX = 'im-mesh-live-limits-test/settings/';

describe('edge rate limits as live settings, on a fake Consul HTTP API (no Consul binary here)', () => {
  let consul: FakeConsul;
  let upstreams: UpstreamDoubles;
  before(async () => {
    consul = await FakeConsul.start();
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), createTestTokenIssuer());
  });
  after(async () => {
    await upstreams.stop();
    await consul.stop();
  });

  async function putSetting(value: string | undefined): Promise<void> {
    const url = `${consul.url}/v1/kv/${PREFIX}${EDGE_RATE_LIMITS_SETTING}`;
    const response = await fetch(url, value === undefined ? { method: 'DELETE' } : { method: 'PUT', body: value });
    assert.equal(response.status, 200);
  }

  /** Sends calls until one is refused; how many got through (at most `max`). */
  async function admittedBefore(auth: authV1.AuthServiceClient, max: number): Promise<number> {
    for (let i = 0; i < max; i += 1) {
      try {
        await auth.getLoginKey({ deviceId: `device-${i}` });
      } catch (error) {
        assert.equal((error as { code: Status }).code, Status.RESOURCE_EXHAUSTED);
        return i;
      }
    }
    return max;
  }

  async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`${what} did not happen within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('a put tightens the per-IP limit of a running edge; a bad value changes nothing; a delete restores the environment value', async () => {
    const settings = new ConsulLiveSettings({ url: consul.url, prefix: PREFIX, waitMs: 20_000, minQueryIntervalMs: 0 });
    // From the environment: plenty. Refill is slow, so only the burst counts during the test.
    const edge = await startTestEdge(upstreams.addresses, { EDGE_RATE_LIMIT_PER_IP: '1', EDGE_RATE_LIMIT_PER_IP_BURST: '1000' }, settings);
    const channel = createChannel(edge.address);
    try {
      const auth = createClient(authV1.AuthServiceDefinition, channel);
      assert.equal(await admittedBefore(auth, 20), 20, 'the environment limit lets 20 calls through');

      // The bucket holds 980 tokens; a capacity of 5 caps it at 5, and the slow
      // refill of the override keeps it empty once they are spent.
      await putSetting(JSON.stringify({ perIp: { capacity: 5, refillPerSecond: 0.01 } }));
      await eventually('the tighter limit in force', async () => (await admittedBefore(auth, 10)) < 10);
      assert.equal(await admittedBefore(auth, 1), 0, 'the bucket stays empty under the override');
      assert.ok(edge.logLines.some((line) => line.includes('live setting changed') && line.includes(EDGE_RATE_LIMITS_SETTING)));

      await putSetting(JSON.stringify({ perIp: { capacity: -3 } }));
      await eventually('the bad value noticed', async () => edge.logLines.some((line) => line.includes('invalid value')));
      assert.equal(await admittedBefore(auth, 1), 0, 'an invalid value did not lift the limit');

      await putSetting(undefined);
      await eventually('the environment limit back', async () => (await admittedBefore(auth, 1)) === 1);
    } finally {
      channel.close();
      await edge.stop();
      await settings.close();
    }
  });
});
