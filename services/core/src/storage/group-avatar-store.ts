// What the group-avatar renderer reads: groups whose generated picture is
// stale and due, their first members in join order, and those members' own
// profiles (user_profiles and files, kept by core's social and file features).
// Recording a render happens in the group's change transaction
// (GroupTransaction.settleAvatar), like every other group change.
import type { DataSource } from 'typeorm';
import { TOUCHED_MICROS } from './group-store.js';
import { withConnection } from './sql.js';

/** A group whose generated picture is stale and due for rendering. */
export interface StaleAvatarRow {
  id: string;
  avatar_key: string | null;
  avatar_members: string | null;
  /** avatar_touched_at in microseconds since the epoch: exact, unlike a JS Date. */
  touched_micros: number;
}

/**
 * Groups whose picture is stale and due: quiet for `quietMs` since the last
 * membership change (so a burst of joins renders once), or stale for
 * `maxWaitMs` however busy the group is. Oldest first.
 */
export async function staleAvatars(database: DataSource, quietMs: number, maxWaitMs: number, limit: number): Promise<StaleAvatarRow[]> {
  return withConnection(database, (sql) =>
    sql.rows<StaleAvatarRow>(
      `SELECT id, avatar_key, avatar_members, ${TOUCHED_MICROS} AS touched_micros FROM groups
        WHERE avatar_dirty_since IS NOT NULL AND dissolved_at IS NULL
          AND (avatar_touched_at <= clock_timestamp() - make_interval(secs => $1::float8 / 1000)
               OR avatar_dirty_since <= clock_timestamp() - make_interval(secs => $2::float8 / 1000))
        ORDER BY avatar_dirty_since LIMIT $3`,
      [quietMs, maxWaitMs, limit],
    ),
  );
}

/** The first `count` current members in join order. */
export async function firstMembers(database: DataSource, groupId: string, count: number): Promise<string[]> {
  const rows = await withConnection(database, (sql) =>
    sql.rows<{ user_id: string }>('SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY join_order LIMIT $2', [groupId, count]),
  );
  return rows.map((row) => row.user_id);
}

/** A member's own profile as a group picture shows it (user_profiles and files, owned by core's social feature). */
export interface MemberProfileRow {
  user_id: string;
  nickname: string | null;
  /** The blob of their profile picture (its thumbnail when there is one), if they set one that finished uploading. */
  picture_key: string | null;
}

export async function memberProfiles(database: DataSource, userIds: readonly string[]): Promise<MemberProfileRow[]> {
  return withConnection(database, (sql) =>
    sql.rows<MemberProfileRow>(
      `SELECT p.user_id, p.nickname, COALESCE(f.thumbnail_key, f.blob_key) AS picture_key
         FROM user_profiles p LEFT JOIN files f ON f.id = p.avatar_file_id AND f.state = 2
        WHERE p.user_id = ANY($1::uuid[])`,
      [userIds],
    ),
  );
}
