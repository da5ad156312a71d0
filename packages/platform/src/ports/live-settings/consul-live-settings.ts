// Live settings from Consul's KV store: every key under a prefix holds one JSON
// value (`consul kv put im-mesh/settings/edge-rate-limits '{"perIp":{"refillPerSecond":50}}'`),
// followed with a blocking query, so a change reaches every process in about one
// round trip. The watch keeps the last settings while Consul is away.
import type { Logger } from 'pino';
import type { BlockingQueryOptions, ConsulConnectionOptions } from '../service-registry/consul-http.js';
import { watchConsulKv, type ConsulKvWatch } from '../service-registry/consul-kv-watch.js';
import type { LiveSettingsSource, SettingsSnapshot } from './live-settings.js';

export interface ConsulLiveSettingsOptions extends ConsulConnectionOptions, BlockingQueryOptions {
  /** The KV folder holding the settings, e.g. "im-mesh/settings/". */
  prefix: string;
  logger?: Logger;
}

export class ConsulLiveSettings implements LiveSettingsSource {
  private readonly listeners = new Set<(settings: SettingsSnapshot) => void>();
  private readonly watch: ConsulKvWatch;

  constructor(options: ConsulLiveSettingsOptions) {
    const prefix = options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
    this.watch = watchConsulKv({ ...options, prefix }, (settings) => {
      for (const listener of this.listeners) listener(settings);
    });
  }

  current(): SettingsSnapshot {
    return this.watch.current();
  }

  subscribe(listener: (settings: SettingsSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.watch.stop();
  }
}
