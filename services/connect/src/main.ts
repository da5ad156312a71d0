// Standalone entry point of a connect node. For several nodes, set PRESENCE=redis
// and BUS=rabbitmq, and give each node its own CONNECT_NODE_ID. The node announces
// its gRPC server as `connect` and its WebSocket port as `connect-ws` (with an
// HTTP health check), the names the edge looks up.
import { runStandalone } from '@im-mesh/platform';
import { loadConnectConfig } from './config.js';
import { startConnectService } from './start-connect-service.js';

await runStandalone({
  service: 'connect',
  loadConfig: loadConnectConfig,
  needs: { presence: true, bus: true, settings: true },
  start: ({ config, logger, infrastructure }) =>
    startConnectService({
      config,
      logger,
      presence: infrastructure.presence,
      bus: infrastructure.bus,
      settings: infrastructure.settings,
    }),
  announce: (running, advertise) => [
    { service: 'connect', id: running.nodeId, address: advertise(running.grpcAddress) },
    { service: 'connect-ws', id: `${running.nodeId}-ws`, address: advertise(running.httpAddress), health: 'http' },
  ],
});
