// Hot-reloadable settings (rate limits, feature flags) from Consul's KV store:
// every key under a prefix holds one JSON value, and a blocking query on the
// prefix reports the whole set again whenever any of them changes, so an
// operator's `consul kv put im-mesh/settings/send-rate '{"perMinute":60}'`
// reaches every process within one round trip.
import type { Logger } from 'pino';
import {
  followBlockingQuery,
  openConsulClient,
  type BlockingCallOptions,
  type BlockingQueryOptions,
  type ConsulConnectionOptions,
} from './consul-http.js';

export interface ConsulKvWatchOptions extends ConsulConnectionOptions, BlockingQueryOptions {
  /** The folder watched, e.g. "im-mesh/settings/". Settings are named by their key below it. */
  prefix: string;
  /** Where unparsable values and failed queries are reported. */
  logger?: Logger;
}

/** Setting name (the key below the prefix) -> parsed JSON value. */
export type ConsulSettings = Readonly<Record<string, unknown>>;

export interface ConsulKvWatch {
  /** The settings as last reported; empty until Consul first answers. */
  current(): ConsulSettings;
  /** Stops watching and releases the agent's sockets. No report follows. */
  stop(): void;
}

/**
 * Watches every key under `options.prefix` and calls `onChange` with all the
 * settings, first once Consul answers, then after every change (a deleted key
 * disappears, so callers fall back to their defaults). A value that is not JSON
 * keeps its last good value, with a warning, so a typo cannot switch a limit
 * off. While Consul is unreachable the last settings stay in force and the watch
 * retries with backoff; it picks up where the agent is when it returns.
 */
export function watchConsulKv(options: ConsulKvWatchOptions, onChange: (settings: ConsulSettings) => void): ConsulKvWatch {
  const prefix = options.prefix.replace(/^\/+/, '');
  const consul = openConsulClient(options);
  let settings: ConsulSettings = Object.freeze({});
  let signature = JSON.stringify(settings);
  let answered = false;
  let active = true;

  const stopQuery = followBlockingQuery(
    // The typings of kv.get leave out the documented blocking options.
    (call: BlockingCallOptions) => consul.kv.get({ key: prefix, recurse: true, ...call } as { key: string; recurse: true }),
    (body) => {
      if (!active) return;
      const next = parseSettings(prefix, body, settings, options.logger);
      const nextSignature = JSON.stringify(next);
      if (answered && nextSignature === signature) return;
      answered = true;
      settings = next;
      signature = nextSignature;
      onChange(settings);
    },
    {
      ...options,
      onError: (error, failures, retryInMs) =>
        options.logger?.warn({ err: error, prefix, failures, retryInMs }, 'Consul KV query failed; keeping the last settings and retrying'),
    },
  );

  return {
    current: () => settings,
    stop: () => {
      if (!active) return;
      active = false;
      stopQuery();
      consul.destroy();
    },
  };
}

/** The settings in a recursive /kv answer (a 404, i.e. no keys, arrives as undefined). */
function parseSettings(prefix: string, body: unknown, previous: ConsulSettings, logger: Logger | undefined): ConsulSettings {
  const items = Array.isArray(body) ? body : body ? [body] : [];
  const entries: Array<[string, unknown]> = [];
  for (const item of items as Array<{ Key?: string; Value?: string | null }>) {
    const key = item.Key;
    // Folder markers ("a/b/") and keys without a value hold no setting.
    if (!key?.startsWith(prefix) || key.endsWith('/') || item.Value === null || item.Value === undefined) continue;
    const name = key.slice(prefix.length);
    try {
      entries.push([name, JSON.parse(item.Value)]);
    } catch {
      logger?.warn({ key }, 'a Consul setting is not valid JSON; keeping its last good value');
      if (Object.hasOwn(previous, name)) entries.push([name, previous[name]]);
    }
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.freeze(Object.fromEntries(entries));
}
