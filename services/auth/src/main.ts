// Standalone entry point of the auth service: configuration from the
// environment, an external PostgreSQL (DATABASE_URL), and graceful shutdown on
// SIGTERM/SIGINT. The all-in-one starts auth through startAuthService instead.
import { ConfigError, createLogger, MemoryEphemeralStore, Shutdown } from '@im-mesh/platform';
import { loadAuthConfig, startAuthService } from './index.js';

async function main(): Promise<void> {
  const config = loadAuthConfig();
  if (!config.DATABASE_URL) {
    throw new ConfigError(
      'DATABASE_URL is required to run auth on its own: set it to a PostgreSQL URL such as ' +
        'postgres://im@127.0.0.1:5432/im (only the all-in-one starts an embedded PostgreSQL).',
    );
  }
  const logger = createLogger({ service: 'auth', level: config.LOG_LEVEL });
  // Nonces live in this process for now; with several auth instances behind one
  // address they must move to a shared store (the Redis adapter of the next issue).
  const nonces = new MemoryEphemeralStore();
  const service = await startAuthService({ config, logger, databaseUrl: config.DATABASE_URL, nonces });

  // Steps run in the order added: stop serving and drain first, then close the store.
  const shutdown = new Shutdown(logger);
  shutdown.add('auth service', () => service.stop());
  shutdown.add('nonce store', () => nonces.close());
  shutdown.installSignalHandlers();
  logger.info({ grpc: service.grpcAddress, http: service.httpAddress }, 'auth is listening');
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
