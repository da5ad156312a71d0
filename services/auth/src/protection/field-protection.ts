// Field protection of auth, from configuration: the cipher that seals phone
// numbers and emails and the blind index that finds them. Keys come only from
// the environment (never from the database they protect):
//   AUTH_FIELD_KEYS="2026-11:<base64 32 bytes>,2025-05:<base64 32 bytes>"
//   AUTH_FIELD_KEY_CURRENT="2026-11"      new values are sealed under this kid
//   AUTH_BLIND_INDEX_KEY="<base64 32 bytes>"  must never change (lookups rely on it)
// Without them auth still runs, but phone numbers cannot be stored, so the SMS
// features are refused at start (see sms-config.ts).
import { BlindIndex, ConfigError, env, FieldCipher, parseFieldKeys } from '@im-mesh/platform';

export const fieldProtectionConfigShape = {
  /** Comma-separated "kid:base64" keys (32 bytes each); old kids stay listed so old rows still open. */
  AUTH_FIELD_KEYS: env.optionalString(),
  /** The kid from AUTH_FIELD_KEYS that seals new values; rotate by adding a key and pointing this at it. */
  AUTH_FIELD_KEY_CURRENT: env.optionalString(),
  /** Base64 of 32 random bytes for the HMAC-SHA-256 blind index (and SMS code hashes). Never rotate it in place. */
  AUTH_BLIND_INDEX_KEY: env.optionalString(),
};

export interface FieldProtectionConfig {
  AUTH_FIELD_KEYS?: string | undefined;
  AUTH_FIELD_KEY_CURRENT?: string | undefined;
  AUTH_BLIND_INDEX_KEY?: string | undefined;
}

export interface FieldProtection {
  cipher: FieldCipher;
  blindIndex: BlindIndex;
}

/**
 * The configured protection, or undefined when none of the three keys is set.
 * Throws ConfigError naming the key when only some are set or one is malformed;
 * key material is never part of the message.
 */
export function fieldProtectionFrom(config: FieldProtectionConfig): FieldProtection | undefined {
  const { AUTH_FIELD_KEYS: keys, AUTH_FIELD_KEY_CURRENT: current, AUTH_BLIND_INDEX_KEY: indexKey } = config;
  if (keys === undefined && current === undefined && indexKey === undefined) return undefined;
  if (keys === undefined || current === undefined || indexKey === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  AUTH_FIELD_KEYS, AUTH_FIELD_KEY_CURRENT and AUTH_BLIND_INDEX_KEY must be set together (field encryption needs all three)',
    );
  }
  let cipher: FieldCipher;
  try {
    cipher = new FieldCipher(parseFieldKeys(keys, current));
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  AUTH_FIELD_KEYS / AUTH_FIELD_KEY_CURRENT: ${(error as Error).message}`);
  }
  let blindIndex: BlindIndex;
  try {
    blindIndex = BlindIndex.fromBase64(indexKey);
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  AUTH_BLIND_INDEX_KEY: ${(error as Error).message} (value hidden)`);
  }
  return { cipher, blindIndex };
}
