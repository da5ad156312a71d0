// Rotating auth's RSA keys from outside the running service (the operator
// command keys/rotate-keys.ts, and tests): opens auth's schema with the same
// key-encryption keys as the service, makes a fresh key current and retires the
// old one. Running instances pick the change up at their next key reload
// (AUTH_KEY_RELOAD_INTERVAL_MS); nobody is logged out (see KeyRing).
import { openDatabase, type Logger } from '@im-mesh/platform';
import type { AuthConfig } from '../config.js';
import { KeyStore, type KeyPurpose } from '../storage/key-store.js';
import { authMigrations } from '../storage/migrations/index.js';
import { loadKeyEncryptionKeys } from './key-encryption-keys.js';
import { KeyRing } from './key-ring.js';
import { SecretSealer } from './secret-sealer.js';

/** Rotates the `purpose` key and returns the new kid. Also re-seals keys under the first configured KEK. */
export async function rotateAuthKey(config: AuthConfig, databaseUrl: string, purpose: KeyPurpose, logger: Logger): Promise<string> {
  const db = await openDatabase({ url: databaseUrl, schema: 'auth', migrations: authMigrations, logger, poolSize: 1 });
  try {
    const sealer = new SecretSealer(
      await loadKeyEncryptionKeys({ configured: config.AUTH_KEY_ENCRYPTION_KEYS, file: config.AUTH_KEY_ENCRYPTION_KEY_FILE, logger }),
    );
    const ring = await KeyRing.load(new KeyStore(db), {
      accessTokenTtlSeconds: config.AUTH_ACCESS_TOKEN_TTL_SECONDS,
      loginKeyGraceSeconds: config.AUTH_LOGIN_KEY_GRACE_SECONDS,
      reloadIntervalMs: 0,
      sealer,
      logger,
    });
    return await ring.rotate(purpose);
  } finally {
    await db.destroy();
  }
}
