// A ServiceRegistry whose lists a test sets by hand; every watch hears each
// change at once, the way a registry reports instances that come and go.
import type { ServiceInstance, ServiceRegistry } from '@im-mesh/platform';

export class RegistryDouble implements ServiceRegistry {
  private readonly lists = new Map<string, string[]>();
  private readonly watchers = new Map<string, Set<(addresses: string[]) => void>>();

  constructor(initial: Record<string, string[]> = {}) {
    for (const [service, addresses] of Object.entries(initial)) this.lists.set(service, [...addresses]);
  }

  /** Replaces the instances of `service` and tells every watch. */
  set(service: string, addresses: string[]): void {
    this.lists.set(service, [...addresses]);
    for (const watcher of this.watchers.get(service) ?? []) watcher([...addresses]);
  }

  /** Watches currently open on `service`. */
  watchCount(service: string): number {
    return this.watchers.get(service)?.size ?? 0;
  }

  async register(instance: ServiceInstance): Promise<void> {
    this.set(instance.service, [...new Set([...(this.lists.get(instance.service) ?? []), instance.address])]);
  }

  async deregister(instance: ServiceInstance): Promise<void> {
    this.set(instance.service, (this.lists.get(instance.service) ?? []).filter((address) => address !== instance.address));
  }

  async resolve(service: string): Promise<string[]> {
    return [...(this.lists.get(service) ?? [])];
  }

  watch(service: string, onChange: (addresses: string[]) => void): () => void {
    const set = this.watchers.get(service) ?? new Set();
    this.watchers.set(service, set);
    set.add(onChange);
    queueMicrotask(() => {
      if (set.has(onChange)) onChange([...(this.lists.get(service) ?? [])]);
    });
    return () => set.delete(onChange);
  }

  async close(): Promise<void> {
    this.watchers.clear();
  }
}
