// The shared steps of every group call: "not found" that does not leak whether
// a group exists, the change transaction that checks membership and dissolution
// first, and the Group view with its avatar URL.
import { AppError, type AccessTokenClaims } from '@im-mesh/platform';
import type { groupV1 } from '@im-mesh/contracts';
import type { GroupMemberRow, GroupRow, GroupStore, GroupTransaction } from '../storage/group-store.js';
import type { GroupRoleNumber } from './group-permissions.js';
import { toGroup } from './group-view.js';

export const GROUP_NOT_FOUND = 'Group not found, or you are not a member of it.';

export function groupNotFound(): AppError {
  return AppError.notFound(GROUP_NOT_FOUND, 'GROUP_NOT_FOUND');
}

export function groupDissolved(): AppError {
  return AppError.failedPrecondition('This group was dissolved; nothing in it can change any more.', 'GROUP_DISSOLVED');
}

/** Signs a short-lived download URL for a blob key. */
export type AvatarUrlSigner = (key: string) => Promise<string>;

export interface GroupAccessOptions {
  store: GroupStore;
  memberLimit: number;
  avatarUrl: AvatarUrlSigner;
  /** Called after a change committed: wakes the outbox relay (the event) and the avatar renderer. */
  onChanged: () => void;
}

export class GroupAccess {
  constructor(readonly options: GroupAccessOptions) {}

  get store(): GroupStore {
    return this.options.store;
  }

  get memberLimit(): number {
    return this.options.memberLimit;
  }

  /**
   * Runs `work` as a change by a current member of a live group, in the group's
   * transaction. Refusals thrown by `work` roll everything back.
   */
  async asMember<T>(caller: AccessTokenClaims, groupId: string, work: (tx: GroupTransaction, me: MemberOf) => Promise<T>): Promise<T> {
    const result = await this.options.store.change(groupId, async (tx) => {
      const me = await tx.member(caller.userId);
      if (!me) throw groupNotFound();
      if (tx.group.dissolved_at) throw groupDissolved();
      return work(tx, { ...me, role: me.role as GroupRoleNumber });
    });
    if (!result) throw groupNotFound();
    this.options.onChanged();
    return result.value;
  }

  /** Like asMember, for a caller who may not be a member yet (joining). */
  async asAnyone<T>(groupId: string, work: (tx: GroupTransaction) => Promise<T>): Promise<T> {
    const result = await this.options.store.change(groupId, work);
    if (!result) throw AppError.notFound('There is no group with that id.', 'GROUP_NOT_FOUND');
    this.options.onChanged();
    return result.value;
  }

  /** Refuses a change that would take the group past its member limit. */
  requireRoom(group: GroupRow, adding: number): void {
    if (group.member_count + adding > this.options.memberLimit) {
      throw AppError.failedPrecondition(
        `This group has ${group.member_count} of at most ${this.options.memberLimit} members; ${adding} more do not fit.`,
        'GROUP_FULL',
      );
    }
  }

  async view(group: GroupRow, myRole: number): Promise<groupV1.Group> {
    const key = group.custom_avatar_key ?? group.avatar_key;
    return toGroup(group, myRole, this.options.memberLimit, key ? await this.options.avatarUrl(key) : '');
  }

  /** The group as the caller sees it now; NOT_FOUND unless a current member. */
  async viewFor(caller: AccessTokenClaims, groupId: string): Promise<groupV1.Group> {
    const found = await this.options.store.read(groupId, caller.userId);
    if (!found?.member) throw groupNotFound();
    return this.view(found.group, found.member.role);
  }
}

export type MemberOf = GroupMemberRow & { role: GroupRoleNumber };
