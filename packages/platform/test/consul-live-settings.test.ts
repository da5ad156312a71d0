// ConsulLiveSettings against the live settings contract, on a fake of Consul's
// HTTP API (no Consul binary can run here). Each adapter gets its own prefix.
import { after, before } from 'node:test';
import { ConsulLiveSettings } from '@im-mesh/platform';
import { uniqueName } from '../src/ports/contract-support.js';
import { describeLiveSettingsContract } from '../src/ports/live-settings/live-settings.contract.js';
import { openConsulClient, type ConsulClient } from '../src/ports/service-registry/consul-http.js';
import { FakeConsul } from './fake-consul.js';

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

describeLiveSettingsContract('ConsulLiveSettings on a fake Consul HTTP API (no Consul binary here)', async () => {
  const prefix = `${uniqueName('im-mesh')}/settings/`;
  const source = new ConsulLiveSettings({ url: fake.url, prefix, waitMs: 20_000, minQueryIntervalMs: 0 });
  return {
    source,
    write: async (name, value) => {
      await writer.kv.set(`${prefix}${name}`, JSON.stringify(value));
    },
    writeRaw: async (name, text) => {
      await writer.kv.set(`${prefix}${name}`, text);
    },
    remove: async (name) => {
      await writer.kv.del(`${prefix}${name}`);
    },
    close: () => source.close(),
  };
});
