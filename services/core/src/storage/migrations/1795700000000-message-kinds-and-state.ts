// Message kinds and the state that events change (issue 5, messages):
// - messages.kind: the MessageContent field number, so unread counts and search
//   can tell message kinds from events without decoding protobuf in SQL. 0 means
//   "not a kind people write" (rows written by code that does not set it);
// - messages.search_text: the text a search matches (text, reply text, file
//   name, location title and address, custom fallback text), kept current on edit;
// - recall and edit state on the message row; earlier versions in message_edits;
// - reactions, pins, per-user hides (delete for me), per-user mute and pin;
// - trigram and full-text indexes for search (pg_trgm).
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { messageV1 } from '@im-mesh/contracts';

/** Backfill batch: rows decoded in TypeScript, since SQL cannot read protobuf. */
const BACKFILL_BATCH = 1000;

export class MessageKindsAndState1795700000000 implements MigrationInterface {
  name = 'MessageKindsAndState1795700000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE messages
        ADD COLUMN kind smallint NOT NULL DEFAULT 0,
        ADD COLUMN search_text text,
        ADD COLUMN recalled_at timestamptz,
        ADD COLUMN recalled_by uuid,
        -- The RecallEvent message, so a repeated recall answers with the same event.
        ADD COLUMN recall_event_id uuid,
        ADD COLUMN edit_count integer NOT NULL DEFAULT 0,
        ADD COLUMN edited_at timestamptz`);
    await this.backfill(runner);

    await runner.query(`
      CREATE TABLE message_edits (
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        -- 0 is the original content, then one per edit.
        version integer NOT NULL,
        -- im.message.v1.MessageContent as it was before the edit.
        content bytea NOT NULL,
        replaced_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (message_id, version)
      )`);
    await runner.query(`
      CREATE TABLE message_reactions (
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        emoji text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (message_id, user_id, emoji)
      )`);
    await runner.query(`
      CREATE TABLE message_hides (
        user_id uuid NOT NULL,
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        conversation_id text NOT NULL,
        hidden_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, message_id)
      )`);
    await runner.query(`
      CREATE TABLE conversation_pins (
        conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        pinned_by uuid NOT NULL,
        pinned_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (conversation_id, message_id)
      )`);
    await runner.query(`
      ALTER TABLE conversation_members
        ADD COLUMN muted boolean NOT NULL DEFAULT false,
        ADD COLUMN pinned_at timestamptz,
        ADD COLUMN hidden_version bigint NOT NULL DEFAULT 0`);

    // pg_trgm may already be installed in another schema of this database (one
    // database, a schema per service); the operator class is then taken from
    // wherever it lives, so the index works either way.
    await runner.query('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public');
    const [extension] = (await runner.query(
      `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`,
    )) as Array<{ schema: string }>;
    const schema = extension!.schema.replace(/"/g, '""');
    await runner.query(
      `CREATE INDEX messages_search_text_trgm_idx ON messages USING gin (search_text "${schema}".gin_trgm_ops) WHERE search_text IS NOT NULL`,
    );
    await runner.query(
      `CREATE INDEX messages_search_text_fts_idx ON messages USING gin (to_tsvector('simple', search_text)) WHERE search_text IS NOT NULL`,
    );
  }

  /** Rows stored before this migration are all text messages: give them their kind and search text. */
  private async backfill(runner: QueryRunner): Promise<void> {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = (await runner.query(
        'SELECT id, content FROM messages WHERE id > $1 AND kind = 0 ORDER BY id LIMIT $2',
        [after, BACKFILL_BATCH],
      )) as Array<{ id: string; content: Buffer }>;
      if (rows.length === 0) return;
      for (const row of rows) {
        const body = messageV1.MessageContent.decode(row.content).body;
        if (body?.$case === 'text') {
          await runner.query('UPDATE messages SET kind = 1, search_text = $2 WHERE id = $1', [row.id, body.value.text]);
        }
      }
      after = rows[rows.length - 1]!.id;
    }
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX messages_search_text_fts_idx');
    await runner.query('DROP INDEX messages_search_text_trgm_idx');
    await runner.query('ALTER TABLE conversation_members DROP COLUMN muted, DROP COLUMN pinned_at, DROP COLUMN hidden_version');
    await runner.query('DROP TABLE conversation_pins');
    await runner.query('DROP TABLE message_hides');
    await runner.query('DROP TABLE message_reactions');
    await runner.query('DROP TABLE message_edits');
    await runner.query(
      'ALTER TABLE messages DROP COLUMN kind, DROP COLUMN search_text, DROP COLUMN recalled_at, DROP COLUMN recalled_by, DROP COLUMN recall_event_id, DROP COLUMN edit_count, DROP COLUMN edited_at',
    );
  }
}
