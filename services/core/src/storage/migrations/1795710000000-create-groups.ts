// Groups: the group row (one per group conversation, same id), its current
// members with their role and mute, pending join requests, and the seq window
// each conversation member may see (left_seq). The generated avatar is kept
// durable by avatar_dirty_since: set in the same transaction as a membership
// change, cleared only after the new picture is stored (see group-avatars/).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateGroups1795710000000 implements MigrationInterface {
  name = 'CreateGroups1795710000000';

  async up(runner: QueryRunner): Promise<void> {
    // A member's visible window is (joined_seq, left_seq]: left_seq is the seq of
    // the event that removed them (their leave, kick, or the dissolution), the
    // last message they can pull. NULL while they are a member. Rejoining
    // reopens the window from the rejoin.
    await runner.query(`ALTER TABLE conversation_members ADD COLUMN left_seq bigint`);
    await runner.query(`
      CREATE TABLE groups (
        id text PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
        name text NOT NULL,
        notice text NOT NULL DEFAULT '',
        announcement text NOT NULL DEFAULT '',
        owner_id uuid NOT NULL,
        -- im.message.v1.GroupJoinPolicy: 1 = approval, 2 = open.
        join_policy smallint NOT NULL DEFAULT 1 CHECK (join_policy IN (1, 2)),
        history_visible boolean NOT NULL DEFAULT false,
        mute_all boolean NOT NULL DEFAULT false,
        member_count integer NOT NULL DEFAULT 0,
        -- CreateGroup's idempotency key, unique per creator when given.
        creator_id uuid NOT NULL,
        client_request_id text,
        -- Blob keys of the generated and of the custom picture; the custom one wins.
        avatar_key text,
        custom_avatar_key text,
        -- The first nine member ids the generated picture shows, comma-joined.
        avatar_members text,
        -- Set when the first nine may have changed and the picture is not yet
        -- re-rendered; touched_at moves with every further change (debounce).
        avatar_dirty_since timestamptz,
        avatar_touched_at timestamptz,
        dissolved_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT groups_creator_request_key UNIQUE (creator_id, client_request_id)
      )`);
    await runner.query(`CREATE INDEX groups_avatar_dirty_idx ON groups (avatar_dirty_since) WHERE avatar_dirty_since IS NOT NULL`);
    await runner.query(`
      CREATE TABLE group_members (
        group_id text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        -- im.message.v1.GroupRole: 1 = owner, 2 = admin, 3 = member.
        role smallint NOT NULL CHECK (role IN (1, 2, 3)),
        muted_until timestamptz,
        -- Join order: the generated avatar shows the first nine.
        join_order bigint GENERATED ALWAYS AS IDENTITY,
        joined_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, user_id),
        FOREIGN KEY (group_id, user_id) REFERENCES conversation_members (conversation_id, user_id) ON DELETE CASCADE
      )`);
    // Exactly one owner per group, enforced by the database too.
    await runner.query(`CREATE UNIQUE INDEX group_members_one_owner_idx ON group_members (group_id) WHERE role = 1`);
    await runner.query(`CREATE INDEX group_members_user_id_idx ON group_members (user_id, group_id)`);
    await runner.query(`CREATE INDEX group_members_join_order_idx ON group_members (group_id, join_order)`);
    await runner.query(`
      CREATE TABLE group_join_requests (
        group_id text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        user_id uuid NOT NULL,
        message text NOT NULL DEFAULT '',
        requested_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, user_id)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE group_join_requests');
    await runner.query('DROP TABLE group_members');
    await runner.query('DROP TABLE groups');
    await runner.query('ALTER TABLE conversation_members DROP COLUMN left_seq');
  }
}
