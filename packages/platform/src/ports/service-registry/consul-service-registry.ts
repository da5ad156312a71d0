// ServiceRegistry on a Consul agent's HTTP API. Each instance registers with a
// gRPC health check the agent runs against the instance's own grpc.health.v1
// endpoint, so a wedged process drops out of discovery even if it never
// deregisters, and is removed after DeregisterCriticalServiceAfter. Lookups
// return only instances whose checks all pass; watches are blocking queries.
import type { Logger } from 'pino';
import {
  followBlockingQuery,
  openConsulClient,
  retryOnStaleConnection,
  type BlockingCallOptions,
  type BlockingQueryOptions,
  type ConsulClient,
  type ConsulConnectionOptions,
} from './consul-http.js';
import type { ServiceInstance, ServiceRegistry } from './service-registry.js';

export interface ConsulServiceRegistryOptions extends ConsulConnectionOptions, BlockingQueryOptions {
  /** How often the agent probes each instance's gRPC health endpoint (Consul duration). "10s" by default. */
  checkInterval?: string;
  /** How long one probe may take. "5s" by default. */
  checkTimeout?: string;
  /**
   * Consul removes an instance whose check stays critical this long, so a
   * process killed without deregistering does not linger. "1m" by default.
   */
  deregisterCriticalAfter?: string;
  /**
   * The check's status until the agent's first probe. `passing` by default:
   * services register only after their gRPC server listens and reports
   * SERVING, so starting critical would only delay traffic by up to one interval.
   */
  initialCheckStatus?: 'passing' | 'critical';
  /** Where failed blocking queries and failed deregistrations on close are reported. */
  logger?: Logger;
}

export class ConsulServiceRegistry implements ServiceRegistry {
  private readonly consul: ConsulClient;
  /** Instances this process registered, by id: close() deregisters them. */
  private readonly registered = new Map<string, ServiceInstance>();
  private readonly watches = new Set<() => void>();
  private closed = false;

  constructor(private readonly options: ConsulServiceRegistryOptions = {}) {
    this.consul = openConsulClient(options);
  }

  async register(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    const { host, port } = splitAddress(instance.address);
    const registration = {
      id: instance.id,
      name: instance.service,
      address: host,
      port,
      check: {
        ...(instance.health === 'http'
          ? { name: `HTTP health of ${instance.id}`, http: `http://${instance.address}/healthz` }
          : { name: `gRPC health of ${instance.id}`, grpc: instance.address }),
        interval: this.options.checkInterval ?? '10s',
        timeout: this.options.checkTimeout ?? '5s',
        deregistercriticalserviceafter: this.options.deregisterCriticalAfter ?? '1m',
        status: this.options.initialCheckStatus ?? 'passing',
      },
    };
    try {
      // Registering an id again replaces the earlier registration, which makes
      // this idempotent on the agent's side.
      await retryOnStaleConnection(() => this.consul.agent.service.register(registration));
    } catch (error) {
      throw new Error(`Consul did not register ${instance.service} instance ${instance.id}: ${describe(error)}`, { cause: error });
    }
    this.registered.set(instance.id, instance);
  }

  async deregister(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    await this.deregisterId(instance.id, instance.service);
  }

  async resolve(service: string): Promise<string[]> {
    this.assertOpen();
    try {
      return addressesOf(await retryOnStaleConnection(() => this.consul.health.service({ service, passing: true })));
    } catch (error) {
      throw new Error(`Consul could not list the healthy instances of ${service}: ${describe(error)}`, { cause: error });
    }
  }

  watch(service: string, onChange: (addresses: string[]) => void): () => void {
    this.assertOpen();
    let active = true;
    let last: string | undefined;
    const stopQuery = followBlockingQuery(
      // The typings of health.service leave out the documented blocking options.
      (call: BlockingCallOptions) => this.consul.health.service({ service, passing: true, ...call } as { service: string; passing: boolean }),
      (body) => {
        const addresses = addressesOf(body);
        const signature = addresses.join(',');
        // Consul may answer with an unchanged list (an unrelated write moved the
        // index); only real changes are reported.
        if (!active || signature === last) return;
        last = signature;
        onChange([...addresses]);
      },
      {
        ...this.options,
        // Discovery keeps its last list while Consul is unreachable, so a failed
        // query is a warning, not an error for the caller.
        onError: (error, failures, retryInMs) =>
          this.options.logger?.warn({ err: error, service, failures, retryInMs }, 'Consul health query failed; retrying'),
      },
    );
    const stop = (): void => {
      active = false;
      stopQuery();
      this.watches.delete(stop);
    };
    this.watches.add(stop);
    return stop;
  }

  /** Stops every watch, deregisters this process's instances and releases the agent's sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of [...this.watches]) stop();
    for (const instance of [...this.registered.values()]) {
      // Best effort: if the agent is unreachable now, the failing gRPC check and
      // DeregisterCriticalServiceAfter remove the instance later.
      await this.deregisterId(instance.id, instance.service).catch((error: unknown) =>
        this.options.logger?.warn({ err: error, instance: instance.id }, 'could not deregister from Consul on close'),
      );
    }
    this.consul.destroy();
  }

  private async deregisterId(id: string, service: string): Promise<void> {
    try {
      await retryOnStaleConnection(() => this.consul.agent.service.deregister(id));
    } catch (error) {
      // Consul's docs say an unknown id is a no-op; some versions answer 404.
      if ((error as { statusCode?: number }).statusCode !== 404) {
        throw new Error(`Consul did not deregister ${service} instance ${id}: ${describe(error)}`, { cause: error });
      }
    }
    this.registered.delete(id);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('this ConsulServiceRegistry is closed');
  }
}

/** "host:port" of every entry of a /health/service answer, unique and sorted. */
function addressesOf(body: unknown): string[] {
  if (!Array.isArray(body)) return [];
  const addresses = new Set<string>();
  for (const entry of body as Array<{ Node?: { Address?: string }; Service?: { Address?: string; Port?: number } }>) {
    // An empty service address means "the node's address", as in Consul's DNS.
    const host = entry.Service?.Address || entry.Node?.Address;
    const port = entry.Service?.Port;
    if (!host || !port) continue;
    addresses.add(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  }
  return [...addresses].sort();
}

/** Splits "host:port" or "[v6]:port"; Consul wants them apart. */
function splitAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || !(port > 0 && port < 65_536)) {
    throw new Error(`"${address}" is not a host:port address an instance can be registered under`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
