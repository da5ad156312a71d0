// Dead outbox rows: a row whose push failed CORE_OUTBOX_MAX_ATTEMPTS times moves
// here, out of `outbox`. A separate table rather than a flag on `outbox`, so that
// every outbox query (the claim, its per-conversation order checks, the backlog)
// keeps meaning "rows still to push" and a dead row can never hold back the
// later rows of its conversation. The message row itself is untouched: clients
// still get the message by sync. The original outbox id is kept so a requeued
// row goes back to its place in the conversation's order.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateOutboxDead1795690000000 implements MigrationInterface {
  name = 'CreateOutboxDead1795690000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE outbox_dead (
        -- The id the row had in outbox (never reused: outbox ids come from a sequence).
        id bigint PRIMARY KEY,
        -- Deleting the message deletes its dead row too, as for outbox.
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        conversation_id text NOT NULL,
        seq bigint NOT NULL,
        -- When the send committed (outbox.created_at), kept across requeues.
        created_at timestamptz NOT NULL,
        attempts integer NOT NULL,
        last_error text,
        dead_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Operators requeue by message id.
    await runner.query(`CREATE INDEX outbox_dead_message_id_idx ON outbox_dead (message_id)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE outbox_dead');
  }
}
