// Standalone entry point of a connect node: configuration from the environment,
// the in-process presence registry and push bus (the Redis and RabbitMQ adapters
// replace them here once they exist), then serve until SIGTERM/SIGINT.
import { ConfigError, createLogger, MemoryPresenceRegistry, MemoryPushBus, Shutdown } from '@im-mesh/platform';
import { loadConnectConfig } from './config.js';
import { startConnectService } from './start-connect-service.js';

try {
  const config = loadConnectConfig();
  const logger = createLogger({ service: 'connect', level: config.LOG_LEVEL });
  const presence = new MemoryPresenceRegistry();
  const bus = new MemoryPushBus(logger.child({ component: 'push-bus' }));
  const service = await startConnectService({ config, logger, presence, bus });
  const shutdown = new Shutdown(logger);
  shutdown.add('connect', () => service.stop());
  shutdown.add('presence', () => presence.close());
  shutdown.add('push bus', () => bus.close());
  shutdown.installSignalHandlers();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
