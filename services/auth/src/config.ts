// Configuration of the auth service. Keys are environment variable names; every
// value is validated at start and a bad one fails with a message naming it.
import { env, loadConfig, type ConfigSource, tokenAudienceConfig } from '@im-mesh/platform';
import { z } from 'zod';
import { loginLimitsConfigShape } from './login/login-limits.js';
import { fieldProtectionConfigShape } from './protection/field-protection.js';
import { smsConfigShape } from './sms/sms-config.js';

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
  /**
   * A rotated refresh token presented again within this many seconds, while its
   * successor is unused, returns the same new pair (the client lost the answer);
   * later it revokes the session. 0 turns the grace off.
   */
  AUTH_REFRESH_REUSE_GRACE_SECONDS: env.int(10, 0, 60),
  /**
   * Key-encryption keys sealing auth's private keys at rest: base64 of 32 random
   * bytes each (`openssl rand -base64 32`), comma-separated, the sealing one first;
   * the others still open what they sealed (rotation). Empty: a key generated
   * into AUTH_KEY_ENCRYPTION_KEY_FILE on first start.
   */
  AUTH_KEY_ENCRYPTION_KEYS: env.list([]),
  AUTH_KEY_ENCRYPTION_KEY_FILE: env.string('./var/auth-kek'),
  /** How long a retired login key still decrypts login secrets after a rotation, in seconds. */
  AUTH_LOGIN_KEY_GRACE_SECONDS: env.int(86_400, 60, 30 * 86_400),
  /** How often each instance rereads its keys, so a rotation reaches every instance, in ms. */
  AUTH_KEY_RELOAD_INTERVAL_MS: env.millis(60_000, 100),
  /**
   * Service accounts, comma-separated entries `client-id:role:secret` (role
   * `service` or `admin`; secret at least 32 characters, no commas). They
   * exchange id and secret for a service token (im.admin.v1.ServiceTokenService).
   */
  AUTH_SERVICE_ACCOUNTS: env.list([]),
  /** Lifetime of a service token, in seconds. */
  AUTH_SERVICE_TOKEN_TTL_SECONDS: env.int(300, 30, 3_600),
  ...loginLimitsConfigShape,
  ...smsConfigShape,
  ...fieldProtectionConfigShape,
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
