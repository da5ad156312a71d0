// Phone numbers and emails of accounts, sealed. A value is never stored in
// clear: value_sealed is AES-256-GCM under key_id, bound to (user_contacts,
// value_sealed, id); blind_index is HMAC-SHA-256 of the normalised value, the
// only thing lookups and uniqueness use. key_id is kept beside the sealed value
// so the re-encryption command finds rows on old keys with an index scan.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateUserContacts1764300000000 implements MigrationInterface {
  name = 'CreateUserContacts1764300000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE user_contacts (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('phone', 'email')),
        value_sealed bytea NOT NULL,
        key_id text NOT NULL,
        blind_index bytea NOT NULL CHECK (octet_length(blind_index) = 32),
        verified_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (kind, blind_index),
        UNIQUE (user_id, kind)
      )`);
    await db.query(`CREATE INDEX user_contacts_by_key_id ON user_contacts (key_id)`);
    await db.query(
      `COMMENT ON TABLE user_contacts IS 'Sealed phone numbers and emails: AES-256-GCM (AAD user_contacts/value_sealed/id) ` +
        `under key_id from AUTH_FIELD_KEYS; found by blind_index = HMAC-SHA-256(AUTH_BLIND_INDEX_KEY, kind || 0x00 || value)'`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS user_contacts`);
  }
}
