// Standalone entry point of the edge. Rate-limit buckets live where LIMITS says
// (LIMITS=redis shares them between several edges). Upstream instances come from
// the registry REGISTRY selects: `static` reads AUTH_ADDRESS, CORE_ADDRESS,
// CONNECT_ADDRESS and CONNECT_WS_ADDRESS (each host:port or a comma-separated
// list), `consul` follows the healthy instances of the services named in
// EDGE_REGISTRY_SERVICES. The edge announces nothing: clients reach it through
// a load balancer or DNS, and it serves no grpc.health.v1 for a Consul check.
import { runStandalone } from '@im-mesh/platform';
import { EDGE_REGISTRY_SERVICES, loadEdgeConfig, startEdgeService } from './index.js';

await runStandalone({
  service: 'edge',
  loadConfig: loadEdgeConfig,
  needs: { rateLimiter: true, registry: true, settings: true },
  staticAddresses: (config) => ({
    [EDGE_REGISTRY_SERVICES.auth]: config.AUTH_ADDRESS.join(','),
    [EDGE_REGISTRY_SERVICES.core]: config.CORE_ADDRESS.join(','),
    [EDGE_REGISTRY_SERVICES.connect]: config.CONNECT_ADDRESS.join(','),
    [EDGE_REGISTRY_SERVICES.connectWs]: config.CONNECT_WS_ADDRESS.join(','),
  }),
  announce: () => [],
  start: ({ config, logger, infrastructure }) =>
    startEdgeService({
      config,
      logger,
      rateLimiter: infrastructure.rateLimiter,
      registry: infrastructure.registry,
      settings: infrastructure.settings,
    }),
});
