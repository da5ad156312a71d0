// The RSA keys of auth, persisted so that a restart keeps the same kids: tokens
// signed before a restart stay valid and clients' cached login keys keep working.
// Private keys are PKCS#8 PEM in clear text for now; encryption at rest is a later issue.
import type { DataSource } from 'typeorm';
import { withConnection } from './sql.js';

export type KeyPurpose = 'login' | 'signing';

export interface StoredKey {
  kid: string;
  purpose: KeyPurpose;
  privateKeyPem: string;
  publicKeyPem: string;
  createdAt: Date;
  retiredAt: Date | null;
}

interface KeyRow {
  kid: string;
  purpose: KeyPurpose;
  private_key_pem: string;
  public_key_pem: string;
  created_at: Date;
  retired_at: Date | null;
}

const fromRow = (row: KeyRow): StoredKey => ({
  kid: row.kid,
  purpose: row.purpose,
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
  async insertUnlessCurrentExists(key: Omit<StoredKey, 'createdAt' | 'retiredAt'>): Promise<void> {
    await withConnection(this.db, (sql) =>
      sql(
        `INSERT INTO keys (kid, purpose, private_key_pem, public_key_pem) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
        [key.kid, key.purpose, key.privateKeyPem, key.publicKeyPem],
      ),
    );
  }

  /**
   * Signing keys that may still verify live tokens: the current one and any
   * retired after `retiredAfter` (now minus the access-token lifetime).
   */
  async findVerificationKeys(retiredAfter: Date): Promise<StoredKey[]> {
    const rows = await withConnection(this.db, (sql) =>
      sql<KeyRow>(
        `SELECT * FROM keys WHERE purpose = 'signing' AND (retired_at IS NULL OR retired_at > $1) ORDER BY created_at`,
        [retiredAfter],
      ),
    );
    return rows.map(fromRow);
  }
}
