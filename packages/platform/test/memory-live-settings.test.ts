// MemoryLiveSettings against the live settings contract.
import { MemoryLiveSettings } from '@im-mesh/platform';
import { describeLiveSettingsContract } from '../src/ports/live-settings/live-settings.contract.js';

describeLiveSettingsContract('MemoryLiveSettings', async () => {
  const source = new MemoryLiveSettings();
  return {
    source,
    write: async (name, value) => source.set(name, value),
    remove: async (name) => source.remove(name),
    close: () => source.close(),
  };
});
