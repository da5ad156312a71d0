// Accounts in the auth schema: users with their credentials. The only code that
// reads or writes the credentials table, and the users table too, except that
// contact-store.ts creates the users row of an account registered by phone
// (in the same transaction as its sealed number).
import type { DataSource } from 'typeorm';
import { inTransaction, withConnection } from './sql.js';

export interface NewAccount {
  id: string;
  username: string;
  displayName: string;
  /** argon2id PHC string. */
  passwordHash: string;
}

export interface LoginCredentials {
  userId: string;
  passwordHash: string;
  disabled: boolean;
}

export interface UserSummaryRow {
  userId: string;
  username: string;
  displayName: string;
}

export class AccountStore {
  constructor(private readonly db: DataSource) {}

  /** True when some account already holds `username`, in any letter case. */
  async usernameTaken(username: string): Promise<boolean> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ one: number }>(`SELECT 1 AS one FROM users WHERE lower(username) = lower($1)`, [username]),
    );
    return rows.length > 0;
  }

  /**
   * Creates the user and its credentials in one transaction. Returns
   * 'username_taken' (and stores nothing) when the name is already held, even if
   * another registration won a race a moment ago.
   */
  async createAccount(account: NewAccount): Promise<'created' | 'username_taken'> {
    return inTransaction(this.db, async (sql) => {
      const inserted = await sql<{ id: string }>(
        `INSERT INTO users (id, username, display_name) VALUES ($1, $2, $3)
         ON CONFLICT ((lower(username))) DO NOTHING
         RETURNING id`,
        [account.id, account.username, account.displayName],
      );
      if (inserted.length === 0) return 'username_taken';
      await sql(`INSERT INTO credentials (user_id, password_hash) VALUES ($1, $2)`, [account.id, account.passwordHash]);
      return 'created';
    });
  }

  /** Sets (or first sets, for a phone-only account) the password hash of `userId`. */
  async setPasswordHash(userId: string, passwordHash: string): Promise<void> {
    await withConnection(this.db, (sql) =>
      sql(
        `INSERT INTO credentials (user_id, password_hash) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()`,
        [userId, passwordHash],
      ),
    );
  }

  /** The password hash of the account named `username` (any letter case), if any. */
  async findLoginCredentials(username: string): Promise<LoginCredentials | undefined> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ user_id: string; password_hash: string; disabled: boolean }>(
        `SELECT u.id AS user_id, c.password_hash, u.disabled_at IS NOT NULL AS disabled
           FROM users u JOIN credentials c ON c.user_id = u.id
          WHERE lower(u.username) = lower($1)`,
        [username],
      ),
    );
    const row = rows[0];
    return row && { userId: row.user_id, passwordHash: row.password_hash, disabled: row.disabled };
  }

  /** The existing, enabled users among `ids` (canonical UUID strings), in no particular order. */
  async findActiveUsers(ids: string[]): Promise<UserSummaryRow[]> {
    if (ids.length === 0) return [];
    const rows = await withConnection(this.db, (sql) =>
      sql<{ id: string; username: string; display_name: string }>(
        `SELECT id, username, display_name FROM users WHERE id = ANY($1::uuid[]) AND disabled_at IS NULL`,
        [ids],
      ),
    );
    return rows.map((row) => ({ userId: row.id, username: row.username, displayName: row.display_name }));
  }

  /** The enabled user named `username` in any letter case (user search), if any. */
  async findActiveUserByUsername(username: string): Promise<UserSummaryRow | undefined> {
    const rows = await withConnection(this.db, (sql) =>
      sql<{ id: string; username: string; display_name: string }>(
        `SELECT id, username, display_name FROM users WHERE lower(username) = lower($1) AND disabled_at IS NULL`,
        [username],
      ),
    );
    const row = rows[0];
    return row && { userId: row.id, username: row.username, displayName: row.display_name };
  }
}
