// Core's first schema: conversations with their seq counter, members with read
// watermarks, per-device delivered watermarks, messages and the outbox that feeds
// the push relay. Runs inside schema `core` (search_path set by openDatabase).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCoreTables1795680000000 implements MigrationInterface {
  name = 'CreateCoreTables1795680000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE conversations (
        id text PRIMARY KEY,
        -- 1 = direct, 2 = group (the numbers of im.message.v1.ConversationType).
        type smallint NOT NULL CHECK (type IN (1, 2)),
        -- The highest seq handed out; the next message takes last_seq + 1 under this row's lock.
        last_seq bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query(`
      CREATE TABLE conversation_members (
        conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        -- Messages up to joined_seq predate the member and are not theirs to pull.
        joined_seq bigint NOT NULL DEFAULT 0,
        read_seq bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (conversation_id, user_id)
      )`);
    // A user's conversations, already in the order SyncConversations pages them.
    await runner.query(`CREATE INDEX conversation_members_user_id_idx ON conversation_members (user_id, conversation_id)`);
    await runner.query(`
      CREATE TABLE device_cursors (
        conversation_id text NOT NULL,
        user_id uuid NOT NULL,
        device_id text NOT NULL,
        delivered_seq bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (conversation_id, user_id, device_id),
        FOREIGN KEY (conversation_id, user_id) REFERENCES conversation_members (conversation_id, user_id) ON DELETE CASCADE
      )`);
    await runner.query(`
      CREATE TABLE messages (
        id uuid PRIMARY KEY,
        conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        sender_id uuid NOT NULL,
        sender_device_id text NOT NULL,
        client_msg_id text NOT NULL,
        -- im.message.v1.MessageContent, protobuf-encoded.
        content bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT messages_conversation_seq_key UNIQUE (conversation_id, seq),
        CONSTRAINT messages_sender_client_msg_id_key UNIQUE (sender_id, client_msg_id)
      )`);
    await runner.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        conversation_id text NOT NULL,
        seq bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text
      )`);
    await runner.query(`CREATE INDEX outbox_next_attempt_at_idx ON outbox (next_attempt_at)`);
    // The relay asks "is an earlier row of this conversation still pending?".
    await runner.query(`CREATE INDEX outbox_conversation_id_idx ON outbox (conversation_id, id)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE outbox');
    await runner.query('DROP TABLE messages');
    await runner.query('DROP TABLE device_cursors');
    await runner.query('DROP TABLE conversation_members');
    await runner.query('DROP TABLE conversations');
  }
}
