// The shared body of every service's standalone entry point (services/*/src/main.ts):
// validate configuration (exit 2 naming the bad key), open the adapters the
// configuration selects, start the service, and on SIGTERM/SIGINT stop it before
// closing the adapters. Start failures exit 1 after closing what was opened.
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, loadConfig, type ConfigSource } from '../config/load-config.js';
import { Shutdown } from '../lifecycle/shutdown.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { ServiceInstance } from '../ports/service-registry/service-registry.js';
import type { RunningService } from '../service/running-service.js';
import { infrastructureConfigShape, openInfrastructure, type Infrastructure, type InfrastructureNeeds } from './infrastructure.js';

export interface StandaloneContext<Config, Needs extends InfrastructureNeeds> {
  config: Config;
  logger: Logger;
  infrastructure: Infrastructure<Needs>;
  /** Set when the service asked for a database (DATABASE_URL is then required). */
  databaseUrl: string;
}

export interface StandaloneOptions<
  Config extends { LOG_LEVEL: string },
  Needs extends InfrastructureNeeds,
  Running extends RunningService = RunningService,
> {
  service: string;
  loadConfig: (source: ConfigSource) => Config;
  needs: Needs & { database?: boolean };
  start: (context: StandaloneContext<Config, Needs>) => Promise<Running>;
  /**
   * What this process announces in the registry; by default the service's gRPC
   * address under its own name. Connect adds its WebSocket address.
   */
  announce?: (running: Running, advertise: (address: string) => string) => Array<Omit<ServiceInstance, 'id'> & { id?: string }>;
  /** Addresses of other services for REGISTRY=static ("host:port", comma lists allowed). */
  staticAddresses?: (config: Config) => Record<string, string | undefined>;
  source?: ConfigSource;
}

export async function runStandalone<
  Config extends { LOG_LEVEL: string },
  const Needs extends InfrastructureNeeds,
  Running extends RunningService = RunningService,
>(options: StandaloneOptions<Config, Needs, Running>): Promise<void> {
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
    const needs = { ...options.needs, registry: true } as const;
    const processName = `${options.service}-${hostname()}-${process.pid}`;
    const opened = await openInfrastructure(infraConfig, needs, logger, processName, options.staticAddresses?.(config));
    infrastructure = opened as unknown as Infrastructure<Needs>;
    const running = await options.start({ config, logger, infrastructure: infrastructure, databaseUrl });
    const advertise = advertiser(infraConfig.ADVERTISE_HOST);
    const announced: ServiceInstance[] = (
      options.announce?.(running, advertise) ?? [{ service: options.service, address: advertise(running.grpcAddress) }]
    ).map((instance) => ({ ...instance, id: instance.id ?? `${instance.service}-${hostname()}-${process.pid}` }));
    const registry = opened.registry;
    if (!registry) throw new Error('openInfrastructure did not open the registry it was asked for');
    for (const instance of announced) await registry.register(instance);
    // Leave the registry first so traffic moves elsewhere, then stop serving and
    // drain, then close the adapters.
    shutdown.add('registry', async () => {
      for (const instance of announced) await registry.deregister(instance);
    });
    shutdown.add(options.service, () => running.stop());
    shutdown.add('adapters', () => opened.close());
    logger.info({ grpc: running.grpcAddress, http: running.httpAddress }, `${options.service} is listening`);
  } catch (error) {
    logger.fatal({ err: error }, `${options.service} failed to start`);
    await infrastructure?.close();
    logger.flush(() => process.exit(1));
  }
}

/** Replaces a wildcard bind host (0.0.0.0, ::) with one other machines can dial. */
function advertiser(advertiseHost: string | undefined): (address: string) => string {
  return (address) => {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at);
    const port = address.slice(at + 1);
    if (advertiseHost) return `${advertiseHost}:${port}`;
    return host === '0.0.0.0' || host === '::' || host === '[::]' ? `${hostname()}:${port}` : address;
  };
}
