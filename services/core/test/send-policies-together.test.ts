// The send policies judge the sends of a shared transaction together
// (checkMany): one statement per policy for any number of attempts, and for
// every attempt exactly the verdict `check` gives it alone. The matrix covers
// each refusal of both policies beside sends that pass.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AppError, createLogger, openDatabase } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { GroupSendPolicy } from '../src/groups/group-send-policy.js';
import { directConversationId } from '../src/messages/direct-conversation.js';
import type { SendAttempt, SendPolicy } from '../src/messages/send-policy.js';
import { SocialSendPolicy } from '../src/social/social-send-policy.js';
import { coreMigrations } from '../src/storage/migrations/index.js';
import { SocialStore } from '../src/storage/social-store.js';
import { withConnection, type Sql } from '../src/storage/sql.js';

const TEXT = 1;
const user = () => randomUUID();

/** An Sql that counts the statements it runs. */
function counting(sql: Sql): Sql & { statements: number } {
  const counted = {
    statements: 0,
    rows<T>(text: string, params?: readonly unknown[]) {
      counted.statements += 1;
      return sql.rows<T>(text, params);
    },
  };
  return counted;
}

/** What `check` alone says: the refusal's reason, or 'passes'. */
async function alone(policy: SendPolicy, sql: Sql, attempt: SendAttempt): Promise<string> {
  try {
    await policy.check(sql, attempt);
    return 'passes';
  } catch (error) {
    assert.ok(error instanceof AppError, `a refusal is an AppError, not ${String(error)}`);
    return error.reason ?? error.message;
  }
}

describe('send policies: many attempts judged together', () => {
  let db: TestDatabase;
  let database: DataSource;

  before(async () => {
    db = await createTestDatabase('core');
    database = await openDatabase({ url: db.url, schema: 'core', migrations: coreMigrations, logger: createLogger({ service: 'test', level: 'silent' }) });
  });
  after(async () => {
    await database.destroy();
    await db.drop();
  });

  test('blocks, friends-only recipients and system conversations: one statement for all, each verdict as check gives it', async () => {
    const [sender, blocked, stranger, friend, open, picky] = [user(), user(), user(), user(), user(), user()];
    await database.query('INSERT INTO core.blocks (user_id, blocked_user_id) VALUES ($1, $2)', [open, blocked]);
    await database.query('INSERT INTO core.user_profiles (user_id, allow_stranger_messages) VALUES ($1, false)', [picky]);
    await database.query('INSERT INTO core.friendships (user_id, friend_id) VALUES ($1, $2)', [picky, friend]);
    const attempts: SendAttempt[] = [
      { conversationId: directConversationId(sender, open), senderId: sender, peerId: open, kind: TEXT },
      { conversationId: directConversationId(blocked, open), senderId: blocked, kind: TEXT },
      { conversationId: directConversationId(stranger, picky), senderId: stranger, peerId: picky, kind: TEXT },
      { conversationId: directConversationId(friend, picky), senderId: friend, kind: TEXT },
      { conversationId: `sys:${sender}`, senderId: sender, kind: TEXT },
      { conversationId: `grp-${randomUUID()}`, senderId: sender, kind: TEXT },
    ];
    const policy = new SocialSendPolicy(new SocialStore(database));
    await withConnection(database, async (sql) => {
      const expected = [];
      for (const attempt of attempts) expected.push(await alone(policy, sql, attempt));
      assert.deepEqual(expected, ['passes', 'BLOCKED_BY_RECIPIENT', 'STRANGER_MESSAGES_REFUSED', 'passes', 'SYSTEM_CONVERSATION', 'passes']);
      const counted = counting(sql);
      const together = await policy.checkMany(counted, attempts);
      assert.deepEqual(together.map((refusal) => refusal?.reason ?? 'passes'), expected);
      assert.equal(counted.statements, 1, 'one lookup for every direct attempt');
    });
  });

  test('dissolved groups, former members, mutes and mute-all: one statement for all, each verdict as check gives it', async () => {
    const now = Date.parse('2026-11-27T12:00:00Z');
    const policy = new GroupSendPolicy(() => now);
    const [owner, member, muted, outsider] = [user(), user(), user(), user()];
    const group = async (options: { muteAll?: boolean; dissolved?: boolean }, members: Array<[string, number, Date | null]>) => {
      const id = `grp-${randomUUID()}`;
      await database.query('INSERT INTO core.conversations (id, type) VALUES ($1, 2)', [id]);
      await database.query(
        'INSERT INTO core.groups (id, name, owner_id, creator_id, mute_all, dissolved_at) VALUES ($1, $2, $3, $3, $4, $5)',
        [id, 'test group', owner, options.muteAll ?? false, options.dissolved ? new Date(now - 1000) : null],
      );
      for (const [userId, role, mutedUntil] of members) {
        await database.query('INSERT INTO core.conversation_members (conversation_id, user_id) VALUES ($1, $2)', [id, userId]);
        await database.query('INSERT INTO core.group_members (group_id, user_id, role, muted_until) VALUES ($1, $2, $3, $4)', [id, userId, role, mutedUntil]);
      }
      return id;
    };
    const everyone: Array<[string, number, Date | null]> = [
      [owner, 1, null],
      [member, 3, null],
      [muted, 3, new Date(now + 60_000)],
    ];
    const plain = await group({}, everyone);
    const quiet = await group({ muteAll: true }, everyone);
    const gone = await group({ dissolved: true }, everyone);
    const attempts: SendAttempt[] = [
      { conversationId: plain, senderId: member, kind: TEXT },
      { conversationId: plain, senderId: muted, kind: TEXT },
      { conversationId: plain, senderId: outsider, kind: TEXT },
      { conversationId: quiet, senderId: member, kind: TEXT },
      { conversationId: quiet, senderId: owner, kind: TEXT },
      { conversationId: gone, senderId: member, kind: TEXT },
      { conversationId: directConversationId(member, owner), senderId: member, kind: TEXT },
      { conversationId: `grp-${randomUUID()}`, senderId: member, kind: TEXT },
    ];
    await withConnection(database, async (sql) => {
      const expected = [];
      for (const attempt of attempts) expected.push(await alone(policy, sql, attempt));
      assert.deepEqual(expected.slice(0, 3), ['passes', 'GROUP_MEMBER_MUTED', 'CONVERSATION_NOT_FOUND']);
      assert.equal(expected[4], 'passes', 'the owner speaks while mute-all is on');
      assert.notEqual(expected[3], 'passes', 'a member is silent while mute-all is on');
      assert.equal(expected[5], 'GROUP_DISSOLVED');
      assert.deepEqual(expected.slice(6), ['passes', 'passes'], 'direct conversations and unknown ids are not groups');
      const counted = counting(sql);
      const together = await policy.checkMany(counted, attempts);
      assert.deepEqual(together.map((refusal) => refusal?.reason ?? 'passes'), expected);
      assert.equal(counted.statements, 1, 'one lookup for every group attempt');
    });
  });
});
