// Standalone entry point of core: config from the environment, logger, adapters,
// start, and graceful shutdown on SIGTERM/SIGINT. Presence and the push bus are
// the in-process adapters until the Redis and RabbitMQ ones land; until then a
// standalone core can only push to connect nodes in its own process, and clients
// of other processes catch up by sync.
import { ConfigError, createLogger, MemoryPresenceRegistry, MemoryPushBus, Shutdown } from '@im-mesh/platform';
import { loadCoreConfig, startCoreService, type CoreConfig } from './index.js';

function configOrExit(): CoreConfig & { DATABASE_URL: string } {
  try {
    const config = loadCoreConfig();
    if (!config.DATABASE_URL) {
      throw new ConfigError('Invalid configuration:\n  DATABASE_URL: required to run core on its own (postgres://user:password@host:5432/db)');
    }
    return { ...config, DATABASE_URL: config.DATABASE_URL };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}

const config = configOrExit();
const logger = createLogger({ service: 'core', level: config.LOG_LEVEL });
const presence = new MemoryPresenceRegistry();
const bus = new MemoryPushBus(logger);
const shutdown = new Shutdown(logger);
shutdown.installSignalHandlers();

try {
  const core = await startCoreService({ config, logger, databaseUrl: config.DATABASE_URL, presence, bus });
  shutdown.add('core', () => core.stop());
} catch (error) {
  logger.fatal({ err: error }, 'core failed to start');
  await shutdown.run('start failed');
  process.exit(1);
}
shutdown.add('push bus', () => bus.close());
shutdown.add('presence', () => presence.close());
