// Sessions, keys and permissions hardening (issue 4, part B):
// - users can be banned (separate from `disabled_at`): a banned user is told why,
//   with the reason an admin gave;
// - a rotated refresh token names its successor and keeps the successor pair
//   sealed (AES-256-GCM under the key-encryption key), so a client whose refresh
//   response was lost gets the same pair again within the grace window; only the
//   latest rotated token of a session keeps its sealed pair;
// - private keys move to `private_key_sealed` (AES-256-GCM); the clear-text
//   column becomes nullable and is emptied by the first start that has a
//   key-encryption key (KeyRing.load), because a migration has no access to it.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SessionsKeysBans1764400000000 implements MigrationInterface {
  name = 'SessionsKeysBans1764400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE users ADD COLUMN banned_at timestamptz`);
    await db.query(`ALTER TABLE users ADD COLUMN ban_reason text NOT NULL DEFAULT ''`);

    await db.query(`ALTER TABLE refresh_tokens ADD COLUMN successor_hash bytea`);
    await db.query(`ALTER TABLE refresh_tokens ADD COLUMN successor_sealed bytea`);
    await db.query(
      `COMMENT ON COLUMN refresh_tokens.successor_sealed IS 'AES-256-GCM sealed token pair issued when this token was rotated; ` +
        `returned again within the grace window; cleared at the next rotation or revocation of the session'`,
    );

    await db.query(`ALTER TABLE keys ADD COLUMN private_key_sealed bytea`);
    await db.query(`ALTER TABLE keys ALTER COLUMN private_key_pem DROP NOT NULL`);
    await db.query(
      `ALTER TABLE keys ADD CONSTRAINT keys_private_key_present CHECK (private_key_pem IS NOT NULL OR private_key_sealed IS NOT NULL)`,
    );
    await db.query(
      `COMMENT ON TABLE keys IS 'RSA keys of auth (login = RSA-OAEP decryption, signing = RS256 JWTs). ` +
        `private_key_sealed is AES-256-GCM under AUTH_KEY_ENCRYPTION_KEYS; private_key_pem is only set on rows from before encryption'`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE keys DROP CONSTRAINT keys_private_key_present`);
    await db.query(`ALTER TABLE keys DROP COLUMN private_key_sealed`);
    await db.query(`ALTER TABLE refresh_tokens DROP COLUMN successor_sealed`);
    await db.query(`ALTER TABLE refresh_tokens DROP COLUMN successor_hash`);
    await db.query(`ALTER TABLE users DROP COLUMN ban_reason`);
    await db.query(`ALTER TABLE users DROP COLUMN banned_at`);
  }
}
