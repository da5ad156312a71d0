// LiveSettings: values an operator can change while every process keeps running
// (rate limits, feature flags), without a restart or a deploy.
//
// Contract (every adapter passes live-settings.contract.ts):
// - `current()` is every setting as last known: name -> parsed JSON value. It is
//   empty until the source first answers, and a removed setting disappears, so a
//   reader always has its own fallback (the value from the environment).
// - `subscribe(listener)` calls the listener after every change, never for a
//   report that changed nothing, and returns the way to stop listening.
// - A source that loses its backend keeps the last settings in force: a flapping
//   Consul must never switch a limit off.
// Readers do not use the raw map: `liveSetting()` below validates one named value
// with a zod schema and falls back, so a typo in a value is a warning, not an outage.
import type { Logger } from 'pino';
import type { z } from 'zod';

/** Setting name -> parsed JSON value. */
export type SettingsSnapshot = Readonly<Record<string, unknown>>;

export interface LiveSettingsSource {
  current(): SettingsSnapshot;
  subscribe(listener: (settings: SettingsSnapshot) => void): () => void;
  close(): Promise<void>;
}

/** One validated setting, read on every use (reads are a field access: cheap on hot paths). */
export interface LiveSetting<T> {
  get(): T;
  /** Called with the new value after it changed; returns the way to stop. */
  onChange(listener: (value: T) => void): () => void;
  /** Stops following the source. */
  stop(): void;
}

/**
 * Follows setting `name` of `source`. The value is `fallback` merged with what the
 * source holds, when `merge` is given (so an operator may override one field of a
 * limit), or replaced by it otherwise. A value the schema refuses keeps the last
 * good one in force and is logged with the schema's complaint; a removed setting
 * returns to the fallback.
 */
export function liveSetting<T>(
  source: LiveSettingsSource,
  name: string,
  schema: z.ZodType<T>,
  fallback: T,
  options?: { logger?: Logger },
): LiveSetting<T>;
export function liveSetting<T, Override>(
  source: LiveSettingsSource,
  name: string,
  schema: z.ZodType<Override>,
  fallback: T,
  options: { logger?: Logger; merge: (fallback: T, override: Override) => T },
): LiveSetting<T>;
export function liveSetting<T, Override>(
  source: LiveSettingsSource,
  name: string,
  schema: z.ZodType<Override>,
  fallback: T,
  options: { logger?: Logger; merge?: (fallback: T, override: Override) => T } = {},
): LiveSetting<T> {
  const listeners = new Set<(value: T) => void>();
  let value = fallback;
  let signature = JSON.stringify(value);

  const apply = (settings: SettingsSnapshot): void => {
    let next: T;
    if (!Object.hasOwn(settings, name)) {
      next = fallback;
    } else {
      const parsed = schema.safeParse(settings[name]);
      if (!parsed.success) {
        options.logger?.warn(
          { setting: name, problem: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(value)'}: ${issue.message}`).join('; ') },
          'a live setting has an invalid value; keeping the last good value',
        );
        return;
      }
      // Without `merge`, the overloads make Override and T the same type.
      next = options.merge ? options.merge(fallback, parsed.data) : (parsed.data as unknown as T);
    }
    const nextSignature = JSON.stringify(next);
    if (nextSignature === signature) return;
    value = next;
    signature = nextSignature;
    options.logger?.info({ setting: name, value: next }, 'live setting changed');
    for (const listener of listeners) listener(next);
  };

  apply(source.current());
  const unsubscribe = source.subscribe(apply);
  return {
    get: () => value,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      unsubscribe();
      listeners.clear();
    },
  };
}
