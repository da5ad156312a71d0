// The RSA keys of auth, persisted so that a restart keeps the same kids: tokens
// signed before a restart stay valid and clients' cached login keys keep working.
// Private keys are stored sealed (AES-256-GCM, see keys/secret-sealer.ts); the
// clear-text column only holds rows written before encryption existed, until
// KeyRing.load seals them. This store never sees a KEK: it moves bytes.
import type { DataSource } from 'typeorm';
import { inTransaction, withConnection } from './sql.js';

export type KeyPurpose = 'login' | 'signing';

export interface StoredKey {
  kid: string;
  purpose: KeyPurpose;
  /** AES-256-GCM sealed PKCS#8 PEM; null only on rows from before encryption. */
  privateKeySealed: Buffer | null;
  /** Legacy clear-text PKCS#8 PEM; null once sealed. */
  privateKeyPem: string | null;
  publicKeyPem: string;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface NewKey {
  kid: string;
  purpose: KeyPurpose;
  privateKeySealed: Buffer;
  publicKeyPem: string;
}

interface KeyRow {
  kid: string;
  purpose: KeyPurpose;
  private_key_sealed: Buffer | null;
  private_key_pem: string | null;
  public_key_pem: string;
  created_at: Date;
  retired_at: Date | null;
}

const fromRow = (row: KeyRow): StoredKey => ({
  kid: row.kid,
  purpose: row.purpose,
  privateKeySealed: row.private_key_sealed,
  privateKeyPem: row.private_key_pem,
  publicKeyPem: row.public_key_pem,
  createdAt: row.created_at,
  retiredAt: row.retired_at,
});

export class KeyStore {
  constructor(private readonly db: DataSource) {}

  /** The key currently used for `purpose`, if one was ever made. */
  async findCurrent(purpose: KeyPurpose): Promise<StoredKey | undefined> {
    const rows = await withConnection(this.db, (sql) =>
      sql<KeyRow>(`SELECT * FROM keys WHERE purpose = $1 AND retired_at IS NULL`, [purpose]),
    );
    return rows[0] && fromRow(rows[0]);
  }

  /**
   * Stores `key` as the current key of its purpose unless one already is (another
   * instance may have won the race); callers read the current key back afterwards.
   */
  async insertUnlessCurrentExists(key: NewKey): Promise<void> {
    await withConnection(this.db, (sql) =>
      sql(
        `INSERT INTO keys (kid, purpose, private_key_sealed, public_key_pem) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
        [key.kid, key.purpose, key.privateKeySealed, key.publicKeyPem],
      ),
    );
  }

  /**
   * Makes `key` the current key of its purpose and retires the one it replaces,
   * atomically. `expectedCurrentKid` guards against two rotations at once: when
   * the current key is no longer that one, nothing changes and false is returned.
   */
  async rotate(key: NewKey, expectedCurrentKid: string, now: Date): Promise<boolean> {
    return inTransaction(this.db, async (sql) => {
      const retired = await sql<{ kid: string }>(
        `UPDATE keys SET retired_at = $3 WHERE purpose = $1 AND kid = $2 AND retired_at IS NULL RETURNING kid`,
        [key.purpose, expectedCurrentKid, now],
      );
      if (retired.length === 0) return false;
      await sql(`INSERT INTO keys (kid, purpose, private_key_sealed, public_key_pem, created_at) VALUES ($1, $2, $3, $4, $5)`, [
        key.kid,
        key.purpose,
        key.privateKeySealed,
        key.publicKeyPem,
        now,
      ]);
      return true;
    });
  }

  /** Keys of `purpose` that are current or were retired after `retiredAfter`, oldest first. */
  async findUsable(purpose: KeyPurpose, retiredAfter: Date): Promise<StoredKey[]> {
    const rows = await withConnection(this.db, (sql) =>
      sql<KeyRow>(`SELECT * FROM keys WHERE purpose = $1 AND (retired_at IS NULL OR retired_at > $2) ORDER BY created_at`, [
        purpose,
        retiredAfter,
      ]),
    );
    return rows.map(fromRow);
  }

  /** Every key still holding a private key, for sealing legacy rows and re-sealing under a new KEK. */
  async findAll(): Promise<StoredKey[]> {
    const rows = await withConnection(this.db, (sql) => sql<KeyRow>(`SELECT * FROM keys ORDER BY created_at`));
    return rows.map(fromRow);
  }

  /** Replaces a key's private key with `sealed` and drops any clear-text copy. */
  async storeSealed(kid: string, sealed: Buffer): Promise<void> {
    await withConnection(this.db, (sql) =>
      sql(`UPDATE keys SET private_key_sealed = $2, private_key_pem = NULL WHERE kid = $1`, [kid, sealed]),
    );
  }
}
