// Groups' tables: the group row, current members (role, mute, join order), join
// requests, and the member windows in conversation_members. Every change runs in
// `GroupStore.change`, one transaction that first locks the group conversation's
// row (the same lock a send takes for its seq), so group changes and messages
// are serialised per group and the event announcing a change gets the seq right
// after everything it changed.
import type { DataSource } from 'typeorm';
import { byOrdinal, inTransaction, isUniqueViolation, withConnection, type Sql } from './sql.js';

export const CONVERSATION_GROUP = 2;

export interface GroupRow {
  id: string;
  name: string;
  notice: string;
  announcement: string;
  owner_id: string;
  join_policy: number;
  history_visible: boolean;
  mute_all: boolean;
  member_count: number;
  avatar_key: string | null;
  custom_avatar_key: string | null;
  dissolved_at: Date | null;
  created_at: Date;
}

export interface GroupMemberRow {
  user_id: string;
  role: number;
  /** Null, or a time (possibly past: a mute that ran out). */
  muted_until: Date | null;
  joined_at: Date;
}

export interface JoinRequestRow {
  user_id: string;
  message: string;
  requested_at: Date;
}

export interface NewGroup {
  id: string;
  name: string;
  ownerId: string;
  /** Besides the owner, in the order given (the avatar shows the first nine). */
  memberIds: readonly string[];
  joinPolicy: number;
  historyVisible: boolean;
  clientRequestId: string | null;
}

export type GroupUpdate = Partial<Pick<GroupRow, 'name' | 'notice' | 'announcement' | 'join_policy' | 'history_visible' | 'mute_all'>> & {
  custom_avatar_key?: string | null;
};

const GROUP_COLUMNS = `g.id, g.name, g.notice, g.announcement, g.owner_id, g.join_policy, g.history_visible, g.mute_all,
  g.member_count, g.avatar_key, g.custom_avatar_key, g.dissolved_at, g.created_at`;

// Membership changes may change the first nine members the generated avatar
// shows: mark it stale (kept durable with the change) and move the debounce clock.
// The debounce clock compared exactly: timestamptz has microseconds, a JS Date only milliseconds.
export const TOUCHED_MICROS = '(extract(epoch FROM avatar_touched_at) * 1000000)::bigint';

const TOUCH_AVATAR = `avatar_dirty_since = COALESCE(avatar_dirty_since, clock_timestamp()), avatar_touched_at = clock_timestamp()`;

/** One group change in progress: the locked group and what may be changed in this transaction. */
export class GroupTransaction {
  constructor(
    readonly sql: Sql,
    readonly group: GroupRow,
    /** The conversation's last seq when the lock was taken (events appended later move it). */
    readonly lastSeqAtLock: number,
  ) {}

  async member(userId: string): Promise<GroupMemberRow | undefined> {
    const [row] = await this.sql.rows<GroupMemberRow>(
      'SELECT user_id, role, muted_until, joined_at FROM group_members WHERE group_id = $1 AND user_id = $2',
      [this.group.id, userId],
    );
    return row;
  }

  /** Which of `userIds` are current members. */
  async currentMembers(userIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.sql.rows<{ user_id: string }>(
      'SELECT user_id FROM group_members WHERE group_id = $1 AND user_id = ANY($2::uuid[])',
      [this.group.id, userIds],
    );
    return new Set(rows.map((row) => row.user_id));
  }

  /**
   * Makes users members (new, or rejoining after leaving) with role member. Call
   * BEFORE appending the event that announces it: their window opens at the
   * current last seq (or at 0 when the group shows history to new members), so
   * that event is the first thing they see. Their read watermark starts there too.
   */
  async addMembers(userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.sql.rows(
      `INSERT INTO conversation_members (conversation_id, user_id, joined_seq, read_seq)
       SELECT $1, u, CASE WHEN $3 THEN 0 ELSE c.last_seq END, c.last_seq
         FROM unnest($2::uuid[]) AS u, conversations c WHERE c.id = $1
       ON CONFLICT (conversation_id, user_id) DO UPDATE
         SET joined_seq = EXCLUDED.joined_seq, left_seq = NULL,
             read_seq = GREATEST(conversation_members.read_seq, EXCLUDED.read_seq)`,
      [this.group.id, userIds, this.group.history_visible],
    );
    await this.sql.rows(
      `INSERT INTO group_members (group_id, user_id, role)
       SELECT $1, u.id, 3 FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n`,
      [this.group.id, userIds],
    );
    await this.sql.rows(`UPDATE groups SET member_count = member_count + $2, ${TOUCH_AVATAR} WHERE id = $1`, [this.group.id, userIds.length]);
    await this.sql.rows('DELETE FROM group_join_requests WHERE group_id = $1 AND user_id = ANY($2::uuid[])', [this.group.id, userIds]);
  }

  /** Ends a membership at `leftSeq` (the seq of the event that ended it: the last one they see). */
  async removeMember(userId: string, leftSeq: number): Promise<void> {
    await this.sql.rows('DELETE FROM group_members WHERE group_id = $1 AND user_id = $2', [this.group.id, userId]);
    await this.sql.rows('UPDATE conversation_members SET left_seq = $3 WHERE conversation_id = $1 AND user_id = $2', [
      this.group.id,
      userId,
      leftSeq,
    ]);
    await this.sql.rows(`UPDATE groups SET member_count = member_count - 1, ${TOUCH_AVATAR} WHERE id = $1`, [this.group.id]);
  }

  async setRole(userId: string, role: number): Promise<void> {
    await this.sql.rows('UPDATE group_members SET role = $3 WHERE group_id = $1 AND user_id = $2', [this.group.id, userId, role]);
  }

  /** The old owner becomes an admin; demoted first, as only one owner row may exist at any moment. */
  async transferOwnership(fromUserId: string, toUserId: string): Promise<void> {
    await this.setRole(fromUserId, 2);
    await this.setRole(toUserId, 1);
    await this.sql.rows('UPDATE groups SET owner_id = $2 WHERE id = $1', [this.group.id, toUserId]);
  }

  async setMutedUntil(userId: string, until: Date | null): Promise<void> {
    await this.sql.rows('UPDATE group_members SET muted_until = $3 WHERE group_id = $1 AND user_id = $2', [this.group.id, userId, until]);
  }

  async update(fields: GroupUpdate): Promise<void> {
    const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
    if (entries.length === 0) return;
    // Column names come from GroupUpdate's keys, never from input.
    const assignments = entries.map(([column], i) => `${column} = $${i + 2}`).join(', ');
    await this.sql.rows(`UPDATE groups SET ${assignments} WHERE id = $1`, [this.group.id, ...entries.map(([, value]) => value)]);
  }

  /** Marks the generated picture stale (the first nine may differ from what it shows). */
  async touchAvatar(): Promise<void> {
    await this.sql.rows(`UPDATE groups SET ${TOUCH_AVATAR} WHERE id = $1`, [this.group.id]);
  }

  /**
   * Records a rendered picture for the first nine `members`, and clears the
   * stale mark, unless the membership changed again after `touchedAtMicros` (then the
   * mark stays and a later pass renders again). `avatarKey` null keeps the
   * current picture (the first nine had not changed). True when recorded.
   */
  async settleAvatar(touchedAtMicros: number, avatarKey: string | null, members: string): Promise<boolean> {
    const rows = await this.sql.rows(
      `UPDATE groups SET avatar_key = COALESCE($3, avatar_key), avatar_members = $4, avatar_dirty_since = NULL, avatar_touched_at = NULL
        WHERE id = $1 AND ${TOUCHED_MICROS} = $2 RETURNING id`,
      [this.group.id, touchedAtMicros, avatarKey, members],
    );
    return rows.length > 0;
  }

  /** Files (or refreshes) a join request; false when one was already pending. */
  async fileJoinRequest(userId: string, message: string): Promise<boolean> {
    const rows = await this.sql.rows<{ inserted: boolean }>(
      `INSERT INTO group_join_requests (group_id, user_id, message) VALUES ($1, $2, $3)
       ON CONFLICT (group_id, user_id) DO UPDATE SET message = EXCLUDED.message
       RETURNING (xmax = 0) AS inserted`,
      [this.group.id, userId, message],
    );
    return rows[0]?.inserted ?? false;
  }

  /** Removes a pending request; false when there was none. */
  async takeJoinRequest(userId: string): Promise<boolean> {
    const rows = await this.sql.rows('DELETE FROM group_join_requests WHERE group_id = $1 AND user_id = $2 RETURNING user_id', [
      this.group.id,
      userId,
    ]);
    return rows.length > 0;
  }

  /** Marks the group dissolved and closes every member's window at `finalSeq` (the dissolution event). */
  async dissolve(finalSeq: number): Promise<void> {
    await this.sql.rows('UPDATE groups SET dissolved_at = now(), avatar_dirty_since = NULL WHERE id = $1', [this.group.id]);
    await this.sql.rows('UPDATE conversation_members SET left_seq = $2 WHERE conversation_id = $1 AND left_seq IS NULL', [
      this.group.id,
      finalSeq,
    ]);
    await this.sql.rows('DELETE FROM group_join_requests WHERE group_id = $1', [this.group.id]);
  }
}

export class GroupStore {
  constructor(private readonly database: DataSource) {}

  /**
   * Creates the group conversation, the group, every membership (owner first)
   * and then runs `announce` in the same transaction (it appends the created
   * event). A `clientRequestId` the creator used before returns that group's id
   * with `created: false` and writes nothing.
   */
  async create(group: NewGroup, announce: (tx: GroupTransaction) => Promise<void>): Promise<{ groupId: string; created: boolean }> {
    if (group.clientRequestId !== null) {
      const existing = await this.findByRequest(group.ownerId, group.clientRequestId);
      if (existing) return { groupId: existing, created: false };
    }
    try {
      return await inTransaction(this.database, async (sql) => {
        await sql.rows(`INSERT INTO conversations (id, type) VALUES ($1, ${CONVERSATION_GROUP})`, [group.id]);
        const members = [group.ownerId, ...group.memberIds];
        await sql.rows(
          `INSERT INTO groups (id, name, owner_id, join_policy, history_visible, member_count, creator_id, client_request_id,
                               avatar_dirty_since, avatar_touched_at)
           VALUES ($1, $2, $3, $4, $5, $6, $3, $7, clock_timestamp(), clock_timestamp())`,
          [group.id, group.name, group.ownerId, group.joinPolicy, group.historyVisible, members.length, group.clientRequestId],
        );
        await sql.rows(
          `INSERT INTO conversation_members (conversation_id, user_id) SELECT $1, u FROM unnest($2::uuid[]) AS u`,
          [group.id, members],
        );
        await sql.rows(
          `INSERT INTO group_members (group_id, user_id, role)
           SELECT $1, u.id, CASE WHEN u.n = 1 THEN 1 ELSE 3 END FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n`,
          [group.id, members],
        );
        const [row] = await sql.rows<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.id = $1`, [group.id]);
        await announce(new GroupTransaction(sql, row!, 0));
        return { groupId: group.id, created: true };
      });
    } catch (error) {
      // A concurrent retry with the same request id committed first.
      if (group.clientRequestId === null || !isUniqueViolation(error, 'groups_creator_request_key')) throw error;
      const existing = await this.findByRequest(group.ownerId, group.clientRequestId);
      if (!existing) throw error;
      return { groupId: existing, created: false };
    }
  }

  /**
   * Runs `work` in one transaction holding the group conversation's row lock.
   * Resolves to undefined, writing nothing, when no such group exists.
   */
  async change<T>(groupId: string, work: (tx: GroupTransaction) => Promise<T>): Promise<{ value: T } | undefined> {
    return inTransaction(this.database, async (sql) => {
      const [locked] = await sql.rows<{ last_seq: number }>(
        `SELECT last_seq FROM conversations WHERE id = $1 AND type = ${CONVERSATION_GROUP} FOR UPDATE`,
        [groupId],
      );
      if (!locked) return undefined;
      const [group] = await sql.rows<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.id = $1`, [groupId]);
      if (!group) return undefined;
      return { value: await work(new GroupTransaction(sql, group, locked.last_seq)) };
    });
  }

  /** The group and the user's membership (undefined when not a current member). */
  async read(groupId: string, userId: string): Promise<{ group: GroupRow; member: GroupMemberRow | undefined } | undefined> {
    return withConnection(this.database, async (sql) => {
      const [group] = await sql.rows<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.id = $1`, [groupId]);
      if (!group) return undefined;
      const [member] = await sql.rows<GroupMemberRow>(
        'SELECT user_id, role, muted_until, joined_at FROM group_members WHERE group_id = $1 AND user_id = $2',
        [groupId, userId],
      );
      return { group, member };
    });
  }

  /** A page of the user's groups (not dissolved) by id, after `afterGroupId`, with the user's role. */
  async listOf(userId: string, afterGroupId: string, limit: number): Promise<Array<GroupRow & { role: number }>> {
    return withConnection(this.database, (sql) =>
      sql.rows<GroupRow & { role: number }>(
        `SELECT ${GROUP_COLUMNS}, gm.role FROM group_members gm JOIN groups g ON g.id = gm.group_id
          WHERE gm.user_id = $1 AND gm.group_id > $2 AND g.dissolved_at IS NULL
          ORDER BY gm.group_id LIMIT $3`,
        [userId, afterGroupId, limit],
      ),
    );
  }

  /** A page of members in join order, after join order `afterOrder`. */
  async members(groupId: string, afterOrder: number, limit: number): Promise<Array<GroupMemberRow & { join_order: number }>> {
    return withConnection(this.database, (sql) =>
      sql.rows<GroupMemberRow & { join_order: number }>(
        `SELECT user_id, role, muted_until, joined_at, join_order FROM group_members
          WHERE group_id = $1 AND join_order > $2 ORDER BY join_order LIMIT $3`,
        [groupId, afterOrder, limit],
      ),
    );
  }

  async joinRequests(groupId: string, limit: number): Promise<JoinRequestRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<JoinRequestRow>(
        'SELECT user_id, message, requested_at FROM group_join_requests WHERE group_id = $1 ORDER BY requested_at, user_id LIMIT $2',
        [groupId, limit],
      ),
    );
  }

  private async findByRequest(creatorId: string, clientRequestId: string): Promise<string | undefined> {
    return withConnection(this.database, async (sql) => {
      const [row] = await sql.rows<{ id: string }>('SELECT id FROM groups WHERE creator_id = $1 AND client_request_id = $2', [
        creatorId,
        clientRequestId,
      ]);
      return row?.id;
    });
  }
}

/**
 * What a group send needs to know about the sender, read inside the send
 * transaction: undefined when `conversationId` is not a group.
 */
export async function groupSendState(sql: Sql, conversationId: string, userId: string): Promise<GroupSendState | undefined> {
  return (await groupSendStates(sql, [{ groupId: conversationId, userId }]))[0];
}

/** What decides whether a user may send to a group now; undefined when there is no such group. */
export interface GroupSendState {
  dissolved: boolean;
  muteAll: boolean;
  member: GroupMemberRow | undefined;
}

/** groupSendState of many (group, user) pairs in one statement, by position. */
export async function groupSendStates(
  sql: Sql,
  pairs: ReadonlyArray<{ groupId: string; userId: string }>,
): Promise<Array<GroupSendState | undefined>> {
  if (pairs.length === 0) return [];
  const rows = await sql.rows<{ ord: number; dissolved: boolean; mute_all: boolean; user_id: string | null; role: number | null; muted_until: Date | null; joined_at: Date | null }>(
    `SELECT t.ord::int AS ord, g.dissolved_at IS NOT NULL AS dissolved, g.mute_all, gm.user_id, gm.role, gm.muted_until, gm.joined_at
       FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS t(group_id, user_id, ord)
       JOIN groups g ON g.id = t.group_id
       LEFT JOIN group_members gm ON gm.group_id = g.id AND gm.user_id = t.user_id`,
    [pairs.map((pair) => pair.groupId), pairs.map((pair) => pair.userId)],
  );
  // No row for a group that does not exist: undefined there.
  return byOrdinal(rows, pairs.length, (row) => ({
    dissolved: row.dissolved,
    muteAll: row.mute_all,
    member: row.user_id === null ? undefined : { user_id: row.user_id, role: row.role!, muted_until: row.muted_until, joined_at: row.joined_at! },
  }));
}
