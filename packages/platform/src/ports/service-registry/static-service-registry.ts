// ServiceRegistry answering from configuration (AUTH_ADDRESS, CORE_ADDRESS, ...)
// plus the instances this process registered itself. Nothing is discovered, so
// the lists change only when this process registers or deregisters.
import type { ServiceInstance, ServiceRegistry } from './service-registry.js';

type Watcher = (addresses: string[]) => void;

export class StaticServiceRegistry implements ServiceRegistry {
  private readonly configured = new Map<string, string[]>();
  /** service -> instance id -> address, for instances registered in this process. */
  private readonly local = new Map<string, Map<string, string>>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private closed = false;

  /** `addresses` maps a service name to its "host:port" addresses. */
  constructor(addresses: Readonly<Record<string, readonly string[]>> = {}) {
    for (const [service, list] of Object.entries(addresses)) this.configured.set(service, unique(list));
  }

  /**
   * Builds the map from config values such as `{ auth: config.AUTH_ADDRESS }`.
   * A value may list several comma-separated addresses; empty values are left out.
   */
  static fromConfig(values: Readonly<Record<string, string | readonly string[] | undefined>>): StaticServiceRegistry {
    const addresses: Record<string, string[]> = {};
    for (const [service, value] of Object.entries(values)) {
      if (value === undefined) continue;
      const list = (typeof value === 'string' ? value.split(',') : [...value]).map((a) => a.trim()).filter(Boolean);
      if (list.length > 0) addresses[service] = list;
    }
    return new StaticServiceRegistry(addresses);
  }

  async register(instance: ServiceInstance): Promise<void> {
    let instances = this.local.get(instance.service);
    if (!instances) {
      instances = new Map();
      this.local.set(instance.service, instances);
    }
    if (instances.get(instance.id) === instance.address) return;
    instances.set(instance.id, instance.address);
    this.notify(instance.service);
  }

  async deregister(instance: ServiceInstance): Promise<void> {
    const instances = this.local.get(instance.service);
    if (!instances?.delete(instance.id)) return;
    if (instances.size === 0) this.local.delete(instance.service);
    this.notify(instance.service);
  }

  async resolve(service: string): Promise<string[]> {
    return this.addressesOf(service);
  }

  watch(service: string, onChange: (addresses: string[]) => void): () => void {
    let stopped = false;
    let last: string | undefined;
    const watcher: Watcher = (addresses) => {
      // Only changes are reported: registering an address that is also
      // configured leaves the list as it was.
      const signature = JSON.stringify(addresses);
      if (stopped || signature === last) return;
      last = signature;
      onChange(addresses);
    };
    let set = this.watchers.get(service);
    if (!set) {
      set = new Set();
      this.watchers.set(service, set);
    }
    set.add(watcher);
    // The first call comes on a microtask, as with registries that must ask a
    // server first, so the caller already holds `stop` when it runs.
    queueMicrotask(() => {
      if (!this.closed) watcher(this.addressesOf(service));
    });
    return () => {
      stopped = true;
      const current = this.watchers.get(service);
      current?.delete(watcher);
      if (current?.size === 0) this.watchers.delete(service);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
  }

  private addressesOf(service: string): string[] {
    return unique([...(this.configured.get(service) ?? []), ...(this.local.get(service)?.values() ?? [])]);
  }

  private notify(service: string): void {
    const set = this.watchers.get(service);
    if (!set) return;
    const addresses = this.addressesOf(service);
    for (const watcher of set) watcher([...addresses]);
  }
}

function unique(list: Iterable<string>): string[] {
  return [...new Set(list)];
}
