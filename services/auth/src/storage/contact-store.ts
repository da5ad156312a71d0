// Sealed contacts (phone numbers, emails) of accounts: the only code that
// reads or writes user_contacts, and the one place that creates an account
// from a phone number (users row and contact row in one transaction). It never
// sees a number in clear: callers seal and index before, and open after.
import type { DataSource } from 'typeorm';
import { inTransaction, withConnection } from './sql.js';

export type ContactKind = 'phone' | 'email';

/** Where a sealed contact lives: the associated data its seal is bound to. */
export const CONTACT_TABLE = 'user_contacts';
export const CONTACT_SEALED_COLUMN = 'value_sealed';

export interface SealedContact {
  /** Row id; part of the seal's associated data. */
  id: string;
  kind: ContactKind;
  sealed: Buffer;
  keyId: string;
  blindIndex: Buffer;
}

export interface NewPhoneAccount {
  userId: string;
  username: string;
  displayName: string;
  phone: SealedContact;
}

export interface ContactOwner {
  userId: string;
  disabled: boolean;
}

export interface ContactRow {
  id: string;
  sealed: Buffer;
}

const UNIQUE_VIOLATION = '23505';

export class ContactStore {
  constructor(private readonly db: DataSource) {}

  /**
   * Creates a password-less account holding a verified phone number. Stores
   * nothing and says why when the username or the number is already taken,
   * even when another registration won a race a moment ago.
   */
  async createPhoneAccount(account: NewPhoneAccount): Promise<'created' | 'username_taken' | 'phone_taken'> {
    try {
      return await inTransaction(this.db, async (sql) => {
        const inserted = await sql<{ id: string }>(
          `INSERT INTO users (id, username, display_name) VALUES ($1, $2, $3)
           ON CONFLICT ((lower(username))) DO NOTHING RETURNING id`,
          [account.userId, account.username, account.displayName],
        );
        if (inserted.length === 0) return 'username_taken';
        const { phone } = account;
        await sql(
          `INSERT INTO user_contacts (id, user_id, kind, value_sealed, key_id, blind_index, verified_at)
           VALUES ($1, $2, $3, $4, $5, $6, now())`,
          [phone.id, account.userId, phone.kind, phone.sealed, phone.keyId, phone.blindIndex],
        );
        return 'created';
      });
    } catch (error) {
      // The (kind, blind_index) key: the number belongs to another account.
      if ((error as { driverError?: { code?: string } }).driverError?.code === UNIQUE_VIOLATION) return 'phone_taken';
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) return 'phone_taken';
      throw error;
    }
  }

  /** The account holding the contact with this blind index, if any. */
  async findOwner(kind: ContactKind, blindIndex: Buffer): Promise<ContactOwner | undefined> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ user_id: string; disabled: boolean }>(
        `SELECT c.user_id, u.disabled_at IS NOT NULL AS disabled
           FROM user_contacts c JOIN users u ON u.id = c.user_id
          WHERE c.kind = $1 AND c.blind_index = $2`,
        [kind, blindIndex],
      ),
    );
    const row = rows[0];
    return row && { userId: row.user_id, disabled: row.disabled };
  }

  /** The sealed contact of `kind` of one user, if any. */
  async findContact(userId: string, kind: ContactKind): Promise<ContactRow | undefined> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ id: string; value_sealed: Buffer }>(`SELECT id, value_sealed FROM user_contacts WHERE user_id = $1 AND kind = $2`, [userId, kind]),
    );
    const row = rows[0];
    return row && { id: row.id, sealed: row.value_sealed };
  }

  /** Up to `limit` contacts sealed under a key other than `currentKeyId`, oldest rows first. */
  async contactsNotOnKey(currentKeyId: string, limit: number): Promise<ContactRow[]> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ id: string; value_sealed: Buffer }>(
        `SELECT id, value_sealed FROM user_contacts WHERE key_id <> $1 ORDER BY created_at, id LIMIT $2`,
        [currentKeyId, limit],
      ),
    );
    return rows.map((row) => ({ id: row.id, sealed: row.value_sealed }));
  }

  /**
   * Replaces one sealed value, only if it is still `previous` (a concurrent
   * change wins and this row is picked up again by the next batch). True when replaced.
   */
  async reseal(id: string, previous: Buffer, next: Buffer, keyId: string): Promise<boolean> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ id: string }>(
        `UPDATE user_contacts SET value_sealed = $3, key_id = $4, updated_at = now()
          WHERE id = $1 AND value_sealed = $2 RETURNING id`,
        [id, previous, next, keyId],
      ),
    );
    return rows.length === 1;
  }

  /** How many contacts are sealed under each key id (the rotation's progress). */
  async countByKey(): Promise<Map<string, number>> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ key_id: string; count: string }>(`SELECT key_id, count(*) AS count FROM user_contacts GROUP BY key_id`),
    );
    return new Map(rows.map((row) => [row.key_id, Number(row.count)]));
  }
}
