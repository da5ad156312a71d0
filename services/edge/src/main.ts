// Standalone entry point of the edge: configuration from the environment, the
// in-memory rate limiter, then serve until SIGTERM/SIGINT.
import { createLogger, MemoryRateLimiter, Shutdown } from '@im-mesh/platform';
import { loadEdgeConfig, startEdgeService } from './index.js';

const config = loadEdgeConfig();
const logger = createLogger({ service: 'edge', level: config.LOG_LEVEL });
const rateLimiter = new MemoryRateLimiter();
const edge = await startEdgeService({ config, logger, rateLimiter });

const shutdown = new Shutdown(logger);
shutdown.add('stop the edge', () => edge.stop());
shutdown.add('close the rate limiter', () => rateLimiter.close());
shutdown.installSignalHandlers();
logger.info({ url: edge.url }, 'edge ready');
