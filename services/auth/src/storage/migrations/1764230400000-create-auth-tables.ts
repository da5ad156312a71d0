// The auth schema: accounts, their password hashes, devices, sessions with their
// refresh tokens, and the RSA keys that decrypt login secrets and sign tokens.
// Tables are created in the service's own schema (the connection's search_path).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAuthTables1764230400000 implements MigrationInterface {
  name = 'CreateAuthTables1764230400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        username text NOT NULL,
        display_name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        disabled_at timestamptz
      )`);
    // Usernames keep the case the user typed but are unique case-insensitively.
    await db.query(`CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))`);

    await db.query(`
      CREATE TABLE credentials (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        password_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`COMMENT ON COLUMN credentials.password_hash IS 'argon2id PHC string (m=19456, t=2, p=1)'`);

    await db.query(`
      CREATE TABLE devices (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        device_id text NOT NULL,
        platform text NOT NULL DEFAULT '',
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, device_id)
      )`);

    await db.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        device_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_refreshed_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
      )`);
    await db.query(`CREATE INDEX sessions_live_by_user ON sessions (user_id) WHERE revoked_at IS NULL`);

    // Only the SHA-256 of a refresh token is kept: a leaked table cannot be replayed.
    await db.query(`
      CREATE TABLE refresh_tokens (
        token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        rotated_at timestamptz
      )`);
    await db.query(`CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id)`);

    await db.query(`
      CREATE TABLE keys (
        kid text PRIMARY KEY,
        purpose text NOT NULL CHECK (purpose IN ('login', 'signing')),
        private_key_pem text NOT NULL,
        public_key_pem text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      )`);
    // One current key per purpose; racing first starts insert with ON CONFLICT DO
    // NOTHING and all end up using the single winner.
    await db.query(`CREATE UNIQUE INDEX keys_one_current_per_purpose ON keys (purpose) WHERE retired_at IS NULL`);
    await db.query(
      `COMMENT ON TABLE keys IS 'RSA keys of auth (login = RSA-OAEP decryption, signing = RS256 JWTs). ` +
        `private_key_pem is stored UNENCRYPTED (PKCS#8 PEM) for now; encryption of keys at rest is a later issue.'`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS keys`);
    await db.query(`DROP TABLE IF EXISTS refresh_tokens`);
    await db.query(`DROP TABLE IF EXISTS sessions`);
    await db.query(`DROP TABLE IF EXISTS devices`);
    await db.query(`DROP TABLE IF EXISTS credentials`);
    await db.query(`DROP TABLE IF EXISTS users`);
  }
}
