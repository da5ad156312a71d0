// The Consul KV settings watch against a fake Consul HTTP API (no Consul binary
// can run here): settings under a prefix arrive as parsed JSON, every change is
// delivered by the blocking query in flight, and the watch outlives the agent
// restarting, with or without its data.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger, watchConsulKv, type ConsulSettings } from '@im-mesh/platform';
import { sleep, uniqueName, waitFor } from '../src/ports/contract-support.js';
import { openConsulClient, type ConsulClient } from '../src/ports/service-registry/consul-http.js';
import { FakeConsul } from './fake-consul.js';

describe('Consul KV settings watch against a fake Consul HTTP API (no Consul binary here)', () => {
  let fake: FakeConsul;
  let writer: ConsulClient;
  before(async () => {
    fake = await FakeConsul.start();
    writer = openConsulClient({ url: fake.url });
  });
  after(async () => {
    writer.destroy();
    await fake.stop();
  });

  test('settings under the prefix arrive as parsed JSON, then again after every change', async () => {
    const prefix = `${uniqueName('im-mesh')}/settings/`;
    const warnings: Array<{ key?: string; msg: string }> = [];
    const logger = createLogger({
      service: 'consul-kv-test',
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          warnings.push(JSON.parse(chunk.toString('utf8')) as { key?: string; msg: string });
          done();
        },
      }),
    });
    const seen: ConsulSettings[] = [];
    const watch = watchConsulKv({ url: fake.url, prefix, waitMs: 20_000, minQueryIntervalMs: 0, logger }, (settings) => seen.push(settings));
    const reported = async (what: string, expected: Record<string, unknown>): Promise<void> => {
      await waitFor(what, () => JSON.stringify(seen.at(-1)) === JSON.stringify(expected), 1_000);
      assert.deepEqual(watch.current(), expected);
    };
    try {
      await reported('the first, empty report', {});

      await writer.kv.set(`${prefix}send-rate`, JSON.stringify({ perMinute: 60 }));
      await reported('a new setting', { 'send-rate': { perMinute: 60 } });

      await writer.kv.set(`${prefix}flags/typing-indicators`, 'true');
      await writer.kv.set(`${prefix}folder/`, '');
      await reported('a nested setting', { 'flags/typing-indicators': true, 'send-rate': { perMinute: 60 } });

      const reports = seen.length;
      await writer.kv.set(`${prefix.slice(0, -1)}-other/send-rate`, '{"perMinute":1}');
      await writer.kv.set(`${prefix}send-rate`, '{perMinute: 5');
      await waitFor('the bad value noticed', () => warnings.some((warning) => warning.key === `${prefix}send-rate`), 1_000);
      await sleep(100);
      assert.equal(seen.length, reports, 'a key outside the prefix or a value that is not JSON changed the settings');
      assert.deepEqual(watch.current()['send-rate'], { perMinute: 60 }, 'the last good value stays in force');

      await writer.kv.set(`${prefix}send-rate`, '{"perMinute":30}');
      await reported('a corrected value', { 'flags/typing-indicators': true, 'send-rate': { perMinute: 30 } });

      await writer.kv.del(`${prefix}send-rate`);
      await reported('a deleted setting', { 'flags/typing-indicators': true });

      watch.stop();
      await waitFor('the query in flight is aborted', () => fake.blockingInFlight === 0);
      const stoppedAt = seen.length;
      await writer.kv.set(`${prefix}send-rate`, '{"perMinute":10}');
      await sleep(200);
      assert.equal(seen.length, stoppedAt, 'a stopped watch still reported');
    } finally {
      watch.stop();
    }
  });

  test('the watch survives the agent restarting, with its data and without it', async () => {
    const agent = await FakeConsul.start();
    // The operator's side: a fresh client after each restart, like a new `consul kv put`.
    let client = openConsulClient({ url: agent.url });
    const reopen = (): void => {
      client.destroy();
      client = openConsulClient({ url: agent.url });
    };
    const prefix = `${uniqueName('im-mesh')}/settings/`;
    const seen: ConsulSettings[] = [];
    // A 20 s wait: after a restart that lost the data the agent's index is below
    // the watch's, and only asking afresh (index 0) gets an answer in time.
    const watch = watchConsulKv({ url: agent.url, prefix, waitMs: 20_000, minQueryIntervalMs: 0 }, (settings) => seen.push(settings));
    const latest = (): unknown => seen.at(-1)?.['send-rate'];
    try {
      for (let i = 0; i < 5; i += 1) await client.kv.set(`${prefix}warm-up-${i}`, String(i));
      await client.kv.set(`${prefix}send-rate`, '{"perMinute":60}');
      await waitFor('the setting before the restart', () => JSON.stringify(latest()) === '{"perMinute":60}');

      await agent.restart({ keepState: true });
      reopen();
      await client.kv.set(`${prefix}send-rate`, '{"perMinute":40}');
      await waitFor('a change after a restart that kept the data', () => JSON.stringify(latest()) === '{"perMinute":40}', 5_000);

      await agent.restart({ keepState: false });
      reopen();
      await waitFor('the agent forgot everything', () => seen.at(-1) !== undefined && Object.keys(seen.at(-1)!).length === 0, 5_000);
      await client.kv.set(`${prefix}send-rate`, '{"perMinute":20}');
      await waitFor('a change after a restart that lost the data', () => JSON.stringify(latest()) === '{"perMinute":20}', 5_000);
    } finally {
      watch.stop();
      client.destroy();
      await agent.stop();
    }
  });
});
