// Standalone entry point of a connect node. For several nodes, set PRESENCE=redis
// and BUS=rabbitmq, and give each node its own CONNECT_NODE_ID.
import { runStandalone } from '@im-mesh/platform';
import { loadConnectConfig } from './config.js';
import { startConnectService } from './start-connect-service.js';

await runStandalone({
  service: 'connect',
  loadConfig: loadConnectConfig,
  needs: { presence: true, bus: true },
  start: ({ config, logger, infrastructure }) =>
    startConnectService({ config, logger, presence: infrastructure.presence, bus: infrastructure.bus }),
});
