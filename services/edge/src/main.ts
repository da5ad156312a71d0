// Standalone entry point of the edge. Rate-limit buckets live where LIMITS says
// (LIMITS=redis shares them between several edges).
import { runStandalone } from '@im-mesh/platform';
import { loadEdgeConfig, startEdgeService } from './index.js';

await runStandalone({
  service: 'edge',
  loadConfig: loadEdgeConfig,
  needs: { rateLimiter: true },
  start: ({ config, logger, infrastructure }) => startEdgeService({ config, logger, rateLimiter: infrastructure.rateLimiter }),
});
