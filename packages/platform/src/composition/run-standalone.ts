// The shared body of every service's standalone entry point (services/*/src/main.ts):
// validate configuration (exit 2 naming the bad key), open the adapters the
// configuration selects, start the service, and on SIGTERM/SIGINT stop it before
// closing the adapters. Start failures exit 1 after closing what was opened.
import { z } from 'zod';
import { ConfigError, loadConfig, type ConfigSource } from '../config/load-config.js';
import { Shutdown } from '../lifecycle/shutdown.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { RunningService } from '../service/running-service.js';
import { infrastructureConfigShape, openInfrastructure, type Infrastructure, type InfrastructureNeeds } from './infrastructure.js';

export interface StandaloneContext<Config, Needs extends InfrastructureNeeds> {
  config: Config;
  logger: Logger;
  infrastructure: Infrastructure<Needs>;
  /** Set when the service asked for a database (DATABASE_URL is then required). */
  databaseUrl: string;
}

export interface StandaloneOptions<Config extends { LOG_LEVEL: string }, Needs extends InfrastructureNeeds> {
  service: string;
  loadConfig: (source: ConfigSource) => Config;
  needs: Needs & { database?: boolean };
  start: (context: StandaloneContext<Config, Needs>) => Promise<RunningService>;
  source?: ConfigSource;
}

export async function runStandalone<Config extends { LOG_LEVEL: string }, const Needs extends InfrastructureNeeds>(
  options: StandaloneOptions<Config, Needs>,
): Promise<void> {
  const source = options.source ?? process.env;
  let config: Config;
  let infraConfig;
  let databaseUrl = '';
  try {
    config = options.loadConfig(source);
    infraConfig = loadConfig(infrastructureConfigShape, source);
    if (options.needs.database) {
      databaseUrl = loadConfig({ DATABASE_URL: z.string({ message: 'required: a PostgreSQL URL such as postgres://im@127.0.0.1:5432/im' }).min(1) }, source).DATABASE_URL;
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }

  const logger = createLogger({ service: options.service, level: config.LOG_LEVEL });
  const shutdown = new Shutdown(logger);
  shutdown.installSignalHandlers();
  let infrastructure: Infrastructure<Needs> | undefined;
  try {
    infrastructure = await openInfrastructure(infraConfig, options.needs, logger, `${options.service}-${process.pid}`);
    const opened = infrastructure;
    const running = await options.start({ config, logger, infrastructure: opened, databaseUrl });
    // Stop serving and drain first, then close the adapters.
    shutdown.add(options.service, () => running.stop());
    shutdown.add('adapters', () => opened.close());
    logger.info({ grpc: running.grpcAddress, http: running.httpAddress }, `${options.service} is listening`);
  } catch (error) {
    logger.fatal({ err: error }, `${options.service} failed to start`);
    await infrastructure?.close();
    logger.flush(() => process.exit(1));
  }
}
