// Standalone entry point of core. Needs DATABASE_URL; for pushes to reach connect
// nodes in other processes set PRESENCE=redis and BUS=rabbitmq.
import { runStandalone } from '@im-mesh/platform';
import { loadCoreConfig, startCoreService } from './index.js';

await runStandalone({
  service: 'core',
  loadConfig: loadCoreConfig,
  needs: { database: true, presence: true, bus: true },
  start: ({ config, logger, infrastructure, databaseUrl }) =>
    startCoreService({ config, logger, databaseUrl, presence: infrastructure.presence, bus: infrastructure.bus }),
});
