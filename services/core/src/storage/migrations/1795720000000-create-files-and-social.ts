// Files and the social graph (issue 5, files and friends):
// - files: one row per upload, pending until CompleteUpload checked the bytes;
//   the id is both the upload id and, once ready, the file id messages carry;
// - message_files: which messages reference which files, written in the send
//   transaction, so "may this user download this file?" is one indexed join;
// - user_profiles: nickname, avatar, signature and the stranger setting (a
//   missing row means the defaults);
// - friendships (one row per direction, carrying that side's remark),
//   friend_requests and blocks;
// - conversations may be of type 3, a user's system conversation
//   ("sys:<user id>") carrying social events as sequenced messages.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateFilesAndSocial1795720000000 implements MigrationInterface {
  name = 'CreateFilesAndSocial1795720000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE files (
        id uuid PRIMARY KEY,
        owner_id uuid NOT NULL,
        -- im.file.v1.FileKind.
        kind smallint NOT NULL CHECK (kind BETWEEN 1 AND 5),
        -- 1 = pending upload, 2 = ready, 3 = rejected (CompleteUpload refused the bytes).
        state smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
        name text NOT NULL,
        size_bytes bigint NOT NULL CHECK (size_bytes > 0),
        -- What the client declared; content_type is what the bytes turned out to be.
        declared_type text NOT NULL,
        content_type text,
        blob_key text NOT NULL UNIQUE,
        thumbnail_key text,
        width integer NOT NULL DEFAULT 0,
        height integer NOT NULL DEFAULT 0,
        -- The upload URL stops working then; a pending row past it cannot complete.
        upload_expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz
      )`);
    await runner.query(`CREATE INDEX files_owner_id_idx ON files (owner_id, created_at)`);
    await runner.query(`
      CREATE TABLE message_files (
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        file_id uuid NOT NULL REFERENCES files (id),
        PRIMARY KEY (message_id, file_id)
      )`);
    // GetDownloadUrl asks "which messages reference this file?".
    await runner.query(`CREATE INDEX message_files_file_id_idx ON message_files (file_id)`);

    await runner.query(`
      CREATE TABLE user_profiles (
        user_id uuid PRIMARY KEY,
        -- NULL: the display name from registration.
        nickname text,
        avatar_file_id uuid REFERENCES files (id),
        signature text NOT NULL DEFAULT '',
        allow_stranger_messages boolean NOT NULL DEFAULT true,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query(`
      CREATE TABLE friendships (
        user_id uuid NOT NULL,
        friend_id uuid NOT NULL,
        -- user_id's private note about friend_id.
        remark text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, friend_id),
        CHECK (user_id <> friend_id)
      )`);
    await runner.query(`
      CREATE TABLE friend_requests (
        id uuid PRIMARY KEY,
        from_user_id uuid NOT NULL,
        to_user_id uuid NOT NULL,
        message text NOT NULL DEFAULT '',
        -- 1 = pending, 2 = accepted, 3 = declined, 4 = superseded (friends another way).
        state smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3, 4)),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        responded_at timestamptz,
        CHECK (from_user_id <> to_user_id)
      )`);
    // At most one pending request per direction; also the lookup for "did they already ask me?".
    await runner.query(`CREATE UNIQUE INDEX friend_requests_pending_key ON friend_requests (from_user_id, to_user_id) WHERE state = 1`);
    await runner.query(`CREATE INDEX friend_requests_to_user_idx ON friend_requests (to_user_id, created_at) WHERE state = 1`);
    await runner.query(`
      CREATE TABLE blocks (
        user_id uuid NOT NULL,
        blocked_user_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, blocked_user_id),
        CHECK (user_id <> blocked_user_id)
      )`);

    await runner.query(`ALTER TABLE conversations DROP CONSTRAINT conversations_type_check`);
    await runner.query(`ALTER TABLE conversations ADD CONSTRAINT conversations_type_check CHECK (type IN (1, 2, 3))`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DELETE FROM conversations WHERE type = 3`);
    await runner.query(`ALTER TABLE conversations DROP CONSTRAINT conversations_type_check`);
    await runner.query(`ALTER TABLE conversations ADD CONSTRAINT conversations_type_check CHECK (type IN (1, 2))`);
    await runner.query('DROP TABLE blocks');
    await runner.query('DROP TABLE friend_requests');
    await runner.query('DROP TABLE friendships');
    await runner.query('DROP TABLE user_profiles');
    await runner.query('DROP TABLE message_files');
    await runner.query('DROP TABLE files');
  }
}
