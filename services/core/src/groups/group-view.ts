// Group rows as the im.group.v1 messages clients see, and the opaque page
// tokens of the group listings.
import { AppError } from '@im-mesh/platform';
import type { groupV1, messageV1 } from '@im-mesh/contracts';
import type { GroupMemberRow, GroupRow } from '../storage/group-store.js';

export function toGroup(row: GroupRow, myRole: number, memberLimit: number, avatarUrl: string): groupV1.Group {
  return {
    groupId: row.id,
    name: row.name,
    notice: row.notice,
    announcement: row.announcement,
    ownerUserId: row.owner_id,
    joinPolicy: row.join_policy as messageV1.GroupJoinPolicy,
    historyVisibleToNewMembers: row.history_visible,
    muteAll: row.mute_all,
    memberCount: row.member_count,
    memberLimit,
    avatarUrl,
    avatarCustom: row.custom_avatar_key !== null,
    myRole: myRole as messageV1.GroupRole,
    dissolvedAt: row.dissolved_at ?? undefined,
    createdAt: row.created_at,
  };
}

export function toGroupMember(row: GroupMemberRow, now: Date): groupV1.GroupMember {
  return {
    userId: row.user_id,
    role: row.role as messageV1.GroupRole,
    // A mute that ran out is no mute: it is not shown.
    mutedUntil: row.muted_until !== null && row.muted_until > now ? row.muted_until : undefined,
    joinedAt: row.joined_at,
  };
}

export function encodePageToken(after: string | number): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url');
}

/** The `after` of a token this server issued, of the expected type; INVALID_ARGUMENT otherwise. */
export function decodePageToken<T extends 'string' | 'number'>(token: string, type: T): T extends 'string' ? string : number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    const after = parsed.after;
    if (type === 'string' && typeof after === 'string' && after.length <= 128) return after as never;
    if (type === 'number' && typeof after === 'number' && Number.isSafeInteger(after) && after >= 0) return after as never;
  } catch {
    // Not our JSON: answered below like any other bad token.
  }
  throw AppError.invalidArgument('page_token is not one this server issued; start again without it.', 'PAGE_TOKEN_INVALID');
}
