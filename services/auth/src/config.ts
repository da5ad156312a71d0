// Configuration of the auth service. Keys are environment variable names; every
// value is validated at start and a bad one fails with a message naming it.
import { env, loadConfig, type ConfigSource, tokenAudienceConfig } from '@im-mesh/platform';
import { z } from 'zod';

export const authConfigShape = {
  AUTH_HOST: env.host('127.0.0.1'),
  AUTH_GRPC_PORT: env.port(7001),
  AUTH_HTTP_PORT: env.port(7081),
  /** How long a login nonce from GetLoginKey stays usable, in seconds. */
  AUTH_NONCE_TTL_SECONDS: env.int(120, 5, 3600),
  /** Largest allowed gap between the `ts` inside a login secret and the server clock, in ms. */
  AUTH_LOGIN_WINDOW_MS: env.millis(60_000, 1_000),
  /** Lifetime of an access token (JWT), in seconds. */
  AUTH_ACCESS_TOKEN_TTL_SECONDS: env.int(900, 30, 86_400),
  /** Lifetime of a refresh token, in seconds; every rotation starts a new one. */
  AUTH_REFRESH_TOKEN_TTL_SECONDS: env.int(30 * 86_400, 60, 365 * 86_400),
  ...tokenAudienceConfig,
  LOG_LEVEL: env.logLevel(),
  /** Required by the standalone entry point; the all-in-one passes its own URL. */
  DATABASE_URL: env.optionalString(),
};

export type AuthConfig = z.infer<z.ZodObject<typeof authConfigShape>>;

/** Reads the auth configuration from `source` (process.env by default). Throws ConfigError. */
export function loadAuthConfig(source?: ConfigSource): AuthConfig {
  return loadConfig(authConfigShape, source);
}
