// The social graph in core's schema: profiles and privacy, friendships,
// friend requests and blocks, and the system conversation each user's social
// events are written to. The only code that touches user_profiles,
// friendships, friend_requests and blocks.
import type { DataSource } from 'typeorm';
import { byOrdinal, inTransaction, withConnection, type Sql } from './sql.js';

export const REQUEST_PENDING = 1;
export const REQUEST_ACCEPTED = 2;
export const REQUEST_DECLINED = 3;
/** The two users became friends another way (each asked the other). */
export const REQUEST_SUPERSEDED = 4;

/** conversations.type of a user's system conversation (im.message.v1.ConversationType). */
export const CONVERSATION_SYSTEM = 3;

export interface ProfileRow {
  user_id: string;
  nickname: string | null;
  avatar_file_id: string | null;
  signature: string;
  allow_stranger_messages: boolean;
  /** NULL: the user never chose (the server default applies). */
  findable_by_phone: boolean | null;
}

export interface FriendRequestRow {
  id: string;
  from_user_id: string;
  to_user_id: string;
  message: string;
  state: number;
  created_at: Date;
  expires_at: Date;
}

export interface FriendRow {
  friend_id: string;
  remark: string;
  created_at: Date;
}

export interface BlockRow {
  blocked_user_id: string;
  created_at: Date;
}

/** What stands between two users: blocks either way, friendship, and a pending request either way. */
export interface Relation {
  /** `other` blocked `self`. */
  blockedBySelfTarget: boolean;
  /** `self` blocked `other`. */
  selfBlocked: boolean;
  friends: boolean;
  /** A live (pending, unexpired) request from `other` to `self`. */
  incoming?: FriendRequestRow;
}

export interface ProfileChange {
  nickname?: string;
  /** null removes the avatar. */
  avatarFileId?: string | null;
  signature?: string;
}

const REQUEST_COLUMNS = 'id, from_user_id, to_user_id, message, state, created_at, expires_at';
const PROFILE_COLUMNS = 'user_id, nickname, avatar_file_id, signature, allow_stranger_messages, findable_by_phone';

export class SocialStore {
  constructor(private readonly database: DataSource) {}

  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    return inTransaction(this.database, work);
  }

  async profiles(userIds: readonly string[]): Promise<Map<string, ProfileRow>> {
    if (userIds.length === 0) return new Map();
    const rows = await withConnection(this.database, (sql) =>
      sql.rows<ProfileRow>(
        `SELECT ${PROFILE_COLUMNS} FROM user_profiles WHERE user_id = ANY($1::uuid[])`,
        [userIds],
      ),
    );
    return new Map(rows.map((row) => [row.user_id, row]));
  }

  /** Sets the given fields (others keep their value, or the defaults for a new row). */
  async updateProfile(userId: string, change: ProfileChange): Promise<ProfileRow> {
    const [row] = await withConnection(this.database, (sql) =>
      sql.rows<ProfileRow>(
        `INSERT INTO user_profiles AS p (user_id, nickname, avatar_file_id, signature)
         VALUES ($1, $2, $4, COALESCE($6, ''))
         ON CONFLICT (user_id) DO UPDATE SET
           nickname = CASE WHEN $3 THEN $2 ELSE p.nickname END,
           avatar_file_id = CASE WHEN $5 THEN $4::uuid ELSE p.avatar_file_id END,
           signature = COALESCE($6, p.signature),
           updated_at = now()
         RETURNING ${PROFILE_COLUMNS}`,
        [
          userId,
          change.nickname ?? null,
          change.nickname !== undefined,
          change.avatarFileId ?? null,
          change.avatarFileId !== undefined,
          change.signature ?? null,
        ],
      ),
    );
    return row!;
  }

  /** Sets the given privacy choices; others keep their value (or the defaults for a new row). */
  async setPrivacy(userId: string, change: { allowStrangers?: boolean; findableByPhone?: boolean }): Promise<ProfileRow> {
    const [row] = await withConnection(this.database, (sql) =>
      sql.rows<ProfileRow>(
        `INSERT INTO user_profiles AS p (user_id, allow_stranger_messages, findable_by_phone) VALUES ($1, COALESCE($2, true), $3)
         ON CONFLICT (user_id) DO UPDATE SET
           allow_stranger_messages = COALESCE($2, p.allow_stranger_messages),
           findable_by_phone = COALESCE($3, p.findable_by_phone),
           updated_at = now()
         RETURNING ${PROFILE_COLUMNS}`,
        [userId, change.allowStrangers ?? null, change.findableByPhone ?? null],
      ),
    );
    return row!;
  }

  /** The relation of `self` to `other`, read inside `tx`; locks a live incoming request if there is one. */
  async relation(tx: Sql, self: string, other: string): Promise<Relation> {
    const [row] = await tx.rows<{ blocked_by_other: boolean; self_blocked: boolean; friends: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM blocks WHERE user_id = $2 AND blocked_user_id = $1) AS blocked_by_other,
              EXISTS (SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_user_id = $2) AS self_blocked,
              EXISTS (SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2) AS friends`,
      [self, other],
    );
    const [incoming] = await tx.rows<FriendRequestRow>(
      `SELECT ${REQUEST_COLUMNS} FROM friend_requests
        WHERE from_user_id = $2 AND to_user_id = $1 AND state = ${REQUEST_PENDING} AND expires_at > now()
        FOR UPDATE`,
      [self, other],
    );
    return { blockedBySelfTarget: row!.blocked_by_other, selfBlocked: row!.self_blocked, friends: row!.friends, ...(incoming && { incoming }) };
  }

  /**
   * Creates the pending request from -> to, or renews the one there (new note,
   * new expiry). `announce` says whether the recipient should hear of it: a new
   * request, or one renewed after it expired or at least an hour after it was
   * last announced. Asking again and again within the hour announces once, so a
   * pest cannot flood someone's system conversation.
   */
  async upsertRequest(
    tx: Sql,
    request: { id: string; from: string; to: string; message: string; ttlSeconds: number },
  ): Promise<{ row: FriendRequestRow; announce: boolean }> {
    const [row] = await tx.rows<FriendRequestRow & { announce: boolean }>(
      `INSERT INTO friend_requests AS r (id, from_user_id, to_user_id, message, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
       ON CONFLICT (from_user_id, to_user_id) WHERE state = ${REQUEST_PENDING}
       DO UPDATE SET message = EXCLUDED.message, expires_at = EXCLUDED.expires_at,
         created_at = CASE WHEN r.expires_at <= now() OR r.created_at <= now() - interval '1 hour' THEN now() ELSE r.created_at END
       RETURNING ${REQUEST_COLUMNS}, created_at = now() AS announce`,
      [request.id, request.from, request.to, request.message, request.ttlSeconds],
    );
    const { announce, ...fields } = row!;
    return { row: fields, announce };
  }

  /** The live request `id` sent to `to`, locked; undefined when there is none (or it expired). */
  async pendingRequestTo(tx: Sql, id: string, to: string): Promise<FriendRequestRow | undefined> {
    const [row] = await tx.rows<FriendRequestRow>(
      `SELECT ${REQUEST_COLUMNS} FROM friend_requests
        WHERE id = $1 AND to_user_id = $2 AND state = ${REQUEST_PENDING} AND expires_at > now()
        FOR UPDATE`,
      [id, to],
    );
    return row;
  }

  async settleRequest(tx: Sql, id: string, state: number): Promise<void> {
    await tx.rows(`UPDATE friend_requests SET state = $2, responded_at = now() WHERE id = $1`, [id, state]);
  }

  /** Any pending request between the two, either way, is superseded (they are friends now). */
  async supersedeRequestsBetween(tx: Sql, a: string, b: string): Promise<void> {
    await tx.rows(
      `UPDATE friend_requests SET state = ${REQUEST_SUPERSEDED}, responded_at = now()
        WHERE state = ${REQUEST_PENDING} AND ((from_user_id = $1 AND to_user_id = $2) OR (from_user_id = $2 AND to_user_id = $1))`,
      [a, b],
    );
  }

  /** Makes a and b friends (both directions); returns a's side. */
  async befriend(tx: Sql, a: string, b: string): Promise<FriendRow> {
    await tx.rows(
      `INSERT INTO friendships (user_id, friend_id) VALUES ($1, $2), ($2, $1) ON CONFLICT DO NOTHING`,
      [a, b],
    );
    const [row] = await tx.rows<FriendRow>(`SELECT friend_id, remark, created_at FROM friendships WHERE user_id = $1 AND friend_id = $2`, [a, b]);
    return row!;
  }

  async friendCount(tx: Sql, userId: string): Promise<number> {
    const [row] = await tx.rows<{ n: number }>(`SELECT count(*)::int AS n FROM friendships WHERE user_id = $1`, [userId]);
    return row!.n;
  }

  async listRequests(userId: string, incoming: boolean, outgoing: boolean, limit: number): Promise<FriendRequestRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<FriendRequestRow>(
        `SELECT ${REQUEST_COLUMNS} FROM friend_requests
          WHERE state = ${REQUEST_PENDING} AND expires_at > now()
            AND (($2 AND to_user_id = $1) OR ($3 AND from_user_id = $1))
          ORDER BY created_at DESC, id DESC LIMIT $4`,
        [userId, incoming, outgoing, limit],
      ),
    );
  }

  async listFriends(userId: string, limit: number): Promise<FriendRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<FriendRow>(`SELECT friend_id, remark, created_at FROM friendships WHERE user_id = $1 ORDER BY friend_id LIMIT $2`, [userId, limit]),
    );
  }

  async setRemark(userId: string, friendId: string, remark: string): Promise<FriendRow | undefined> {
    const [row] = await withConnection(this.database, (sql) =>
      sql.rows<FriendRow>(
        `UPDATE friendships SET remark = $3 WHERE user_id = $1 AND friend_id = $2 RETURNING friend_id, remark, created_at`,
        [userId, friendId, remark],
      ),
    );
    return row;
  }

  async removeFriend(userId: string, friendId: string): Promise<void> {
    await withConnection(this.database, (sql) =>
      sql.rows(`DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1)`, [userId, friendId]),
    );
  }

  /** Blocks `blocked` for `userId` and declines the pending requests `blocked` sent them. */
  async block(userId: string, blocked: string): Promise<void> {
    await inTransaction(this.database, async (tx) => {
      await tx.rows(`INSERT INTO blocks (user_id, blocked_user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [userId, blocked]);
      await tx.rows(
        `UPDATE friend_requests SET state = ${REQUEST_DECLINED}, responded_at = now()
          WHERE from_user_id = $2 AND to_user_id = $1 AND state = ${REQUEST_PENDING}`,
        [userId, blocked],
      );
    });
  }

  async unblock(userId: string, blocked: string): Promise<void> {
    await withConnection(this.database, (sql) => sql.rows(`DELETE FROM blocks WHERE user_id = $1 AND blocked_user_id = $2`, [userId, blocked]));
  }

  async listBlocked(userId: string, limit: number): Promise<BlockRow[]> {
    return withConnection(this.database, (sql) =>
      sql.rows<BlockRow>(
        `SELECT blocked_user_id, created_at FROM blocks WHERE user_id = $1 ORDER BY created_at DESC, blocked_user_id LIMIT $2`,
        [userId, limit],
      ),
    );
  }

  /**
   * Inside `tx`: may each sender write to its recipient directly (by position)?
   * Read by the send policy just before the messages are written, one statement for all.
   */
  async directMessageGates(tx: Sql, pairs: ReadonlyArray<{ senderId: string; recipientId: string }>): Promise<DirectMessageGate[]> {
    if (pairs.length === 0) return [];
    const rows = await tx.rows<{ ord: number; blocked: boolean; allows_strangers: boolean; friends: boolean }>(
      `SELECT t.ord::int AS ord,
              EXISTS (SELECT 1 FROM blocks WHERE user_id = t.recipient_id AND blocked_user_id = t.sender_id) AS blocked,
              COALESCE((SELECT allow_stranger_messages FROM user_profiles WHERE user_id = t.recipient_id), true) AS allows_strangers,
              EXISTS (SELECT 1 FROM friendships WHERE user_id = t.recipient_id AND friend_id = t.sender_id) AS friends
         FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS t(sender_id, recipient_id, ord)`,
      [pairs.map((pair) => pair.senderId), pairs.map((pair) => pair.recipientId)],
    );
    // Every pair has its row (nothing is joined away), so no position is left undefined.
    return byOrdinal(rows, pairs.length, (row) => ({ blocked: row.blocked, allowsStrangers: row.allows_strangers, friends: row.friends })) as DirectMessageGate[];
  }
}

/** What a direct message from one user to another depends on. */
export interface DirectMessageGate {
  blocked: boolean;
  allowsStrangers: boolean;
  friends: boolean;
}

/** The id of `userId`'s system conversation. */
export function systemConversationId(userId: string): string {
  return `sys:${userId}`;
}

/**
 * Inside `tx`: appends one server-written message to `userId`'s system
 * conversation (created on first use, with the user as its only member), with
 * its outbox row (the caller wakes the relay after the commit): the same
 * delivery path as any message, so pushes and sync both carry it.
 * `actorId` (the user whose action caused the event) is the message's sender.
 */
export async function appendSystemMessage(
  tx: Sql,
  event: { messageId: string; userId: string; actorId: string; content: Uint8Array },
): Promise<{ seq: number }> {
  const conversationId = systemConversationId(event.userId);
  await tx.rows(`INSERT INTO conversations (id, type) VALUES ($1, ${CONVERSATION_SYSTEM}) ON CONFLICT DO NOTHING`, [conversationId]);
  await tx.rows(`INSERT INTO conversation_members (conversation_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [conversationId, event.userId]);
  const [row] = await tx.rows<{ seq: number }>(
    `WITH next AS (
       UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq
     ), message AS (
       INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content)
       SELECT $2, $1, next.last_seq, $3, 'server', $5, $4 FROM next
       RETURNING id, seq
     ), queued AS (
       INSERT INTO outbox (message_id, conversation_id, seq, created_at)
       SELECT id, $1, seq, clock_timestamp() FROM message
     )
     SELECT message.seq FROM message`,
    // The client_msg_id of a server-written message only has to be unique per sender.
    [conversationId, event.messageId, event.actorId, Buffer.from(event.content), `system:${event.messageId}`],
  );
  return { seq: Number(row!.seq) };
}
