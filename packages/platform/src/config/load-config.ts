// Typed configuration from the environment, and optionally from a JSON file named
// by IM_CONFIG_FILE (environment wins). Validated once at start; a bad value fails
// with a message naming the key, so an operator can fix it without reading code.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const SECRET_KEY = /SECRET|PASSWORD|TOKEN|KEY|_URL$/;

export type ConfigSource = Record<string, string | undefined>;

/**
 * Validates `source` (process.env by default, merged over IM_CONFIG_FILE) against a
 * zod object whose keys are the variable names, e.g. `{ EDGE_PORT: port(9191) }`.
 * Throws ConfigError listing every bad key.
 */
export function loadConfig<Shape extends z.ZodRawShape>(
  shape: Shape,
  source: ConfigSource = process.env,
): z.infer<z.ZodObject<Shape>> {
  const merged: ConfigSource = { ...readConfigFile(source.IM_CONFIG_FILE), ...definedOnly(source) };
  const result = z.object(shape).safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      const given = merged[key];
      // Never echo secrets (passwords inside URLs, keys) into logs.
      const shown = given === undefined ? '' : SECRET_KEY.test(key) ? ' (value hidden)' : ` (got ${JSON.stringify(given)})`;
      return `  ${key}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

function definedOnly(source: ConfigSource): ConfigSource {
  const out: ConfigSource = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

function readConfigFile(path: string | undefined): ConfigSource {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`IM_CONFIG_FILE: cannot read ${path} as JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`IM_CONFIG_FILE: ${path} must hold a JSON object of KEY: value pairs`);
  }
  const out: ConfigSource = {};
  for (const [k, v] of Object.entries(parsed)) {
    // Lists may be written as JSON arrays; the list fields read comma-separated text.
    out[k] = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : JSON.stringify(v);
  }
  return out;
}

/** Field builders with the messages operators see. */
export const env = {
  port: (fallback: number) =>
    z.coerce.number({ message: 'must be a port 0-65535' }).int('must be a port 0-65535').min(0, 'must be a port 0-65535').max(65535, 'must be a port 0-65535').default(fallback),
  host: (fallback: string) => z.string().min(1).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number({ message: 'must be an integer' }).int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).default(fallback),
  /** Durations in milliseconds. */
  millis: (fallback: number, min = 1) =>
    z.coerce.number({ message: 'must be a whole number of milliseconds' }).int('must be a whole number of milliseconds').min(min, `must be at least ${min} ms`).default(fallback),
  string: (fallback: string) => z.string().default(fallback),
  nonEmpty: (fallback: string) => z.string().min(1, 'must not be empty').default(fallback),
  optionalString: () => z.string().min(1).optional(),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
    z.enum(values, { message: `must be one of ${values.join(', ')}` }).default(fallback as never),
  /** Comma-separated list. */
  list: (fallback: string[]) =>
    z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .default(fallback),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'must be a pino level (info, debug, ...)' }).default('info'),
};

/** The access-token audience every service checks; the same in all of them. */
export const tokenAudienceConfig = {
  JWT_ISSUER: env.nonEmpty('im-mesh'),
  JWT_AUDIENCE: env.nonEmpty('im-mesh'),
};
