// In-process live settings: the default of the all-in-one and of tests. Nothing
// outside the process can change them; `set` and `remove` are for the process
// itself (and the contract suite), the way an operator's `consul kv put` is for
// the Consul adapter.
import type { LiveSettingsSource, SettingsSnapshot } from './live-settings.js';

export class MemoryLiveSettings implements LiveSettingsSource {
  private settings: SettingsSnapshot;
  private readonly listeners = new Set<(settings: SettingsSnapshot) => void>();

  constructor(initial: Record<string, unknown> = {}) {
    this.settings = Object.freeze(structuredClone(initial));
  }

  current(): SettingsSnapshot {
    return this.settings;
  }

  subscribe(listener: (settings: SettingsSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets one setting to a JSON-compatible value (copied, as if it had travelled). */
  set(name: string, value: unknown): void {
    this.replace({ ...this.settings, [name]: JSON.parse(JSON.stringify(value)) as unknown });
  }

  remove(name: string): void {
    if (!Object.hasOwn(this.settings, name)) return;
    const { [name]: _removed, ...rest } = this.settings;
    this.replace(rest);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private replace(next: Record<string, unknown>): void {
    this.settings = Object.freeze(next);
    for (const listener of this.listeners) listener(this.settings);
  }
}
