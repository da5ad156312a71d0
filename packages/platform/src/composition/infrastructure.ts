// Which adapter runs behind each port, chosen from configuration only. Every
// composition root (the all-in-one and each service's main.ts) calls this, so a
// deployment switches engines with environment variables and nothing else:
// PRESENCE=redis, BUS=rabbitmq, LIMITS=redis, REGISTRY=consul, SETTINGS=consul.
// In-process adapters (and static addresses) are the default.
import type { Logger } from 'pino';
import { env } from '../config/load-config.js';
import type { ReadinessCheck } from '../ops/ops-http.js';
import type { EphemeralStore } from '../ports/ephemeral-store/ephemeral-store.js';
import { MemoryEphemeralStore } from '../ports/ephemeral-store/memory-ephemeral-store.js';
import { RedisEphemeralStore } from '../ports/ephemeral-store/redis-ephemeral-store.js';
import { MemoryPresenceRegistry } from '../ports/presence/memory-presence-registry.js';
import type { PresenceRegistry } from '../ports/presence/presence-registry.js';
import { RedisPresenceRegistry } from '../ports/presence/redis-presence-registry.js';
import { ConsulLiveSettings } from '../ports/live-settings/consul-live-settings.js';
import type { LiveSettingsSource } from '../ports/live-settings/live-settings.js';
import { MemoryLiveSettings } from '../ports/live-settings/memory-live-settings.js';
import { MemoryPushBus } from '../ports/push-bus/memory-push-bus.js';
import type { PushBus } from '../ports/push-bus/push-bus.js';
import { DEFAULT_RABBITMQ_URL, RabbitMqPushBus } from '../ports/push-bus/rabbitmq-push-bus.js';
import { MemoryRateLimiter } from '../ports/rate-limiter/memory-rate-limiter.js';
import type { RateLimiter } from '../ports/rate-limiter/rate-limiter.js';
import { RedisRateLimiter } from '../ports/rate-limiter/redis-rate-limiter.js';
import { closeRedis, DEFAULT_REDIS_URL, openRedis, redisReadiness } from '../ports/redis-connection.js';
import { registerConsulResolver } from '../ports/service-registry/consul-resolver.js';
import { ConsulServiceRegistry } from '../ports/service-registry/consul-service-registry.js';
import type { ServiceRegistry } from '../ports/service-registry/service-registry.js';
import { StaticServiceRegistry } from '../ports/service-registry/static-service-registry.js';

export const infrastructureConfigShape = {
  /** Where live device routes are kept: `memory` (one process) or `redis` (shared). */
  PRESENCE: env.oneOf(['memory', 'redis'], 'memory'),
  /** What carries pushes from core to connect nodes: `memory` or `rabbitmq`. */
  BUS: env.oneOf(['memory', 'rabbitmq'], 'memory'),
  /** Where rate-limit buckets, login nonces and codes live: `memory` or `redis`. */
  LIMITS: env.oneOf(['memory', 'redis'], 'memory'),
  /**
   * Where services find each other: `static` (the *_ADDRESS settings) or `consul`
   * (each process registers itself; `consul:///<service>` targets resolve live).
   */
  REGISTRY: env.oneOf(['static', 'consul'], 'static'),
  /**
   * Where hot-reloadable settings (rate limits) come from: `static` (the values in
   * the environment, fixed for the process's life) or `consul` (JSON values under
   * SETTINGS_PREFIX in Consul's KV store, followed live and laid over the
   * environment's values).
   */
  SETTINGS: env.oneOf(['static', 'consul'], 'static'),
  /** The Consul KV folder of the live settings. */
  SETTINGS_PREFIX: env.string('im-mesh/settings/'),
  REDIS_URL: env.string(DEFAULT_REDIS_URL),
  RABBITMQ_URL: env.string(DEFAULT_RABBITMQ_URL),
  CONSUL_URL: env.string('http://127.0.0.1:8500'),
  CONSUL_TOKEN: env.optionalString(),
  /** The host other processes should dial, when services bind 0.0.0.0; the machine's hostname by default. */
  ADVERTISE_HOST: env.optionalString(),
};

export interface InfrastructureConfig {
  PRESENCE: 'memory' | 'redis';
  BUS: 'memory' | 'rabbitmq';
  LIMITS: 'memory' | 'redis';
  REGISTRY: 'static' | 'consul';
  SETTINGS?: 'static' | 'consul' | undefined;
  SETTINGS_PREFIX?: string | undefined;
  REDIS_URL: string;
  RABBITMQ_URL: string;
  CONSUL_URL: string;
  CONSUL_TOKEN?: string | undefined;
  ADVERTISE_HOST?: string | undefined;
}

/** The ports a process needs; only those are opened. */
export interface InfrastructureNeeds {
  presence?: boolean;
  bus?: boolean;
  rateLimiter?: boolean;
  ephemeral?: boolean;
  registry?: boolean;
  settings?: boolean;
}

/** A port asked for in `needs` is always there; others may be absent. */
type Opened<Needs extends InfrastructureNeeds, Port extends keyof InfrastructureNeeds, T> = Needs[Port] extends true ? T : T | undefined;

export interface Infrastructure<Needs extends InfrastructureNeeds = InfrastructureNeeds> {
  presence: Opened<Needs, 'presence', PresenceRegistry>;
  bus: Opened<Needs, 'bus', PushBus>;
  rateLimiter: Opened<Needs, 'rateLimiter', RateLimiter>;
  ephemeral: Opened<Needs, 'ephemeral', EphemeralStore>;
  registry: Opened<Needs, 'registry', ServiceRegistry>;
  settings: Opened<Needs, 'settings', LiveSettingsSource>;
  readiness: ReadinessCheck[];
  /** Closes every adapter opened here, the bus last (pushes in flight may still need it). */
  close(): Promise<void>;
}

/**
 * Opens the adapters a process needs. One Redis connection serves all Redis
 * ports of the process. Fails (closing what it opened) when an engine is
 * unreachable, with a message naming it.
 */
export async function openInfrastructure<const Needs extends InfrastructureNeeds>(
  config: InfrastructureConfig,
  needs: Needs,
  logger: Logger,
  /** Names this process in CLIENT LIST and RabbitMQ connection names. */
  processName: string,
  /** Addresses per service ("host:port", comma lists allowed) for REGISTRY=static. */
  staticAddresses: Record<string, string | undefined> = {},
): Promise<Infrastructure<Needs>> {
  const closers: Array<() => Promise<void>> = [];
  const readiness: ReadinessCheck[] = [];
  const close = async () => {
    for (const closeOne of closers.reverse()) {
      await closeOne().catch((error: unknown) => logger.warn({ err: error }, 'closing an adapter failed'));
    }
    closers.length = 0;
  };
  try {
    const wantsRedis = (needs.presence && config.PRESENCE === 'redis') || ((needs.rateLimiter || needs.ephemeral) && config.LIMITS === 'redis');
    const redis = wantsRedis
      ? await openRedis({
          url: config.REDIS_URL,
          connectionName: processName,
          onError: (error) => logger.warn({ err: error }, 'redis connection error; reconnecting'),
        })
      : undefined;
    if (redis) {
      closers.push(() => closeRedis(redis));
      readiness.push(redisReadiness(redis));
    }

    let presence: PresenceRegistry | undefined;
    if (needs.presence) {
      presence = redis && config.PRESENCE === 'redis' ? new RedisPresenceRegistry(redis) : new MemoryPresenceRegistry();
      const opened = presence;
      closers.push(() => opened.close());
    }

    let rateLimiter: RateLimiter | undefined;
    if (needs.rateLimiter) {
      rateLimiter = redis && config.LIMITS === 'redis' ? new RedisRateLimiter(redis) : new MemoryRateLimiter();
      const opened = rateLimiter;
      closers.push(() => opened.close());
    }

    let ephemeral: EphemeralStore | undefined;
    if (needs.ephemeral) {
      ephemeral = redis && config.LIMITS === 'redis' ? new RedisEphemeralStore(redis) : new MemoryEphemeralStore();
      const opened = ephemeral;
      closers.push(() => opened.close());
    }

    let registry: ServiceRegistry | undefined;
    if (needs.registry) {
      if (config.REGISTRY === 'consul') {
        const consul = new ConsulServiceRegistry({
          url: config.CONSUL_URL,
          token: config.CONSUL_TOKEN,
          logger: logger.child({ component: 'consul' }),
        });
        // gRPC clients of this process may now dial consul:///<service>.
        const unregisterResolver = registerConsulResolver(consul);
        closers.push(async () => {
          unregisterResolver();
          await consul.close();
        });
        registry = consul;
      } else {
        const fixed = StaticServiceRegistry.fromConfig(staticAddresses);
        closers.push(() => fixed.close());
        registry = fixed;
      }
    }

    let settings: LiveSettingsSource | undefined;
    if (needs.settings) {
      settings =
        config.SETTINGS === 'consul'
          ? new ConsulLiveSettings({
              url: config.CONSUL_URL,
              token: config.CONSUL_TOKEN,
              prefix: config.SETTINGS_PREFIX ?? 'im-mesh/settings/',
              logger: logger.child({ component: 'live-settings' }),
            })
          : new MemoryLiveSettings();
      const opened = settings;
      closers.push(() => opened.close());
    }

    let bus: PushBus | undefined;
    if (needs.bus) {
      bus =
        config.BUS === 'rabbitmq'
          ? await RabbitMqPushBus.open({ url: config.RABBITMQ_URL, connectionName: processName, logger: logger.child({ component: 'rabbitmq' }) })
          : new MemoryPushBus(logger.child({ component: 'push-bus' }));
      const opened = bus;
      if (bus instanceof RabbitMqPushBus) readiness.push(bus.readiness());
      // Added first so it closes last.
      closers.unshift(() => opened.close());
    }

    return { presence, bus, rateLimiter, ephemeral, registry, settings, readiness, close } as Infrastructure<Needs>;
  } catch (error) {
    await close();
    throw error;
  }
}
