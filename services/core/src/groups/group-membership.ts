// Who is in a group and with what role: invite, join (open or by request),
// review requests, leave, kick, roles, ownership, mutes. Each change and its
// GroupEvent commit together; a refusal writes nothing.
import { AppError, type AccessTokenClaims } from '@im-mesh/platform';
import { messageV1, type groupV1 } from '@im-mesh/contracts';
import { userIdFrom } from '../messages/message-rules.js';
import type { GroupTransaction } from '../storage/group-store.js';
import type { UserDirectory } from '../upstream/user-directory.js';
import { groupDissolved, type GroupAccess } from './group-access.js';
import { appendGroupEvent, type EventActor } from './group-events.js';
import {
  JOIN_POLICY_OPEN,
  requireGroupPermission,
  requireRoleMayEver,
  ROLE_ADMIN,
  ROLE_MEMBER,
  type GroupAction,
  type GroupRoleNumber,
} from './group-permissions.js';
import { checkGroupText, checkMuteSeconds, groupIdFrom, MAX_INVITES_PER_CALL, MAX_JOIN_MESSAGE_LENGTH, userIdsFrom } from './group-rules.js';

export class GroupMembership {
  constructor(
    private readonly access: GroupAccess,
    private readonly directory: UserDirectory,
    /** Milliseconds since the epoch; for tests. */
    private readonly now: () => number = Date.now,
  ) {}

  async invite(caller: AccessTokenClaims, request: groupV1.InviteMembersRequest): Promise<groupV1.InviteMembersResponse> {
    const groupId = groupIdFrom(request.groupId);
    const userIds = userIdsFrom(request.userIds, 'user_ids', MAX_INVITES_PER_CALL, caller.userId);
    if (userIds.length === 0) throw AppError.invalidArgument('Name at least one user other than yourself to invite.', 'USER_IDS_EMPTY');
    await requireUsersExist(this.directory, userIds);
    const added = await this.access.asMember(caller, groupId, async (tx, me) => {
      requireGroupPermission('invite', { actorRole: me.role, joinPolicy: tx.group.join_policy });
      const already = await tx.currentMembers(userIds);
      const newcomers = userIds.filter((id) => !already.has(id));
      if (newcomers.length === 0) return [];
      this.access.requireRoom(tx.group, newcomers.length);
      await tx.addMembers(newcomers);
      await appendGroupEvent(tx, actorOf(caller), { $case: 'invited', value: { userIds: newcomers } });
      return newcomers;
    });
    return { addedUserIds: added };
  }

  async join(caller: AccessTokenClaims, request: groupV1.JoinGroupRequest): Promise<groupV1.JoinGroupResponse> {
    const groupId = groupIdFrom(request.groupId);
    const note = checkGroupText('message', request.message, MAX_JOIN_MESSAGE_LENGTH);
    const joined = await this.access.asAnyone(groupId, async (tx) => {
      if (tx.group.dissolved_at) throw groupDissolved();
      // Joining twice is not an error: the caller is where they wanted to be.
      if (await tx.member(caller.userId)) return true;
      if (tx.group.join_policy === JOIN_POLICY_OPEN) {
        this.access.requireRoom(tx.group, 1);
        await tx.addMembers([caller.userId]);
        await appendGroupEvent(tx, actorOf(caller), { $case: 'joined', value: { userId: caller.userId } });
        return true;
      }
      // A repeated request only refreshes its note; admins hear of it once.
      if (await tx.fileJoinRequest(caller.userId, note)) {
        await appendGroupEvent(tx, actorOf(caller), { $case: 'joinRequested', value: { userId: caller.userId, message: note } });
      }
      return false;
    });
    return { joined };
  }

  async review(caller: AccessTokenClaims, request: groupV1.ReviewJoinRequestRequest): Promise<groupV1.ReviewJoinRequestResponse> {
    const groupId = groupIdFrom(request.groupId);
    const userId = userIdFrom(request.userId, 'user_id');
    await this.access.asMember(caller, groupId, async (tx, me) => {
      requireGroupPermission('reviewJoinRequests', { actorRole: me.role });
      if (request.approve) this.access.requireRoom(tx.group, 1);
      if (!(await tx.takeJoinRequest(userId))) {
        throw AppError.failedPrecondition('That user has no pending request to join this group.', 'JOIN_REQUEST_NOT_FOUND');
      }
      if (!request.approve) {
        await appendGroupEvent(tx, actorOf(caller), { $case: 'joinDeclined', value: { userId } });
        return;
      }
      await tx.addMembers([userId]);
      await appendGroupEvent(tx, actorOf(caller), { $case: 'joinApproved', value: { userId } });
    });
    return {};
  }

  async leave(caller: AccessTokenClaims, request: groupV1.LeaveGroupRequest): Promise<groupV1.LeaveGroupResponse> {
    const groupId = groupIdFrom(request.groupId);
    await this.access.asMember(caller, groupId, async (tx, me) => {
      requireGroupPermission('leave', { actorRole: me.role });
      const event = await appendGroupEvent(tx, actorOf(caller), { $case: 'left', value: { userId: caller.userId } });
      await tx.removeMember(caller.userId, event.seq);
    });
    return {};
  }

  async kick(caller: AccessTokenClaims, request: groupV1.KickMemberRequest): Promise<groupV1.KickMemberResponse> {
    const groupId = groupIdFrom(request.groupId);
    const userId = otherUser(caller, request.userId, 'Use LeaveGroup to leave a group yourself.');
    await this.onMember(caller, groupId, userId, 'kick', async (tx) => {
      const event = await appendGroupEvent(tx, actorOf(caller), { $case: 'kicked', value: { userId } });
      await tx.removeMember(userId, event.seq);
    });
    return {};
  }

  async setRole(caller: AccessTokenClaims, request: groupV1.SetMemberRoleRequest): Promise<groupV1.SetMemberRoleResponse> {
    const groupId = groupIdFrom(request.groupId);
    const userId = otherUser(caller, request.userId, 'You cannot change your own role.');
    const role = request.role === messageV1.GroupRole.GROUP_ROLE_ADMIN ? ROLE_ADMIN : request.role === messageV1.GroupRole.GROUP_ROLE_MEMBER ? ROLE_MEMBER : undefined;
    if (role === undefined) {
      throw AppError.invalidArgument('role must be GROUP_ROLE_ADMIN or GROUP_ROLE_MEMBER; use TransferOwnership to change the owner.', 'GROUP_ROLE_INVALID');
    }
    await this.onMember(caller, groupId, userId, 'setRole', async (tx, target) => {
      if (target === role) return;
      await tx.setRole(userId, role);
      await appendGroupEvent(tx, actorOf(caller), { $case: 'roleChanged', value: { userId, role: role as messageV1.GroupRole } });
    });
    return {};
  }

  async transferOwnership(caller: AccessTokenClaims, request: groupV1.TransferOwnershipRequest): Promise<groupV1.TransferOwnershipResponse> {
    const groupId = groupIdFrom(request.groupId);
    const userId = otherUser(caller, request.newOwnerUserId, 'You already own this group.', 'new_owner_user_id');
    await this.onMember(caller, groupId, userId, 'transferOwnership', async (tx) => {
      await tx.transferOwnership(caller.userId, userId);
      await appendGroupEvent(tx, actorOf(caller), {
        $case: 'ownerTransferred',
        value: { previousOwnerUserId: caller.userId, newOwnerUserId: userId },
      });
    });
    return {};
  }

  async mute(caller: AccessTokenClaims, request: groupV1.MuteMemberRequest): Promise<groupV1.MuteMemberResponse> {
    const groupId = groupIdFrom(request.groupId);
    const userId = otherUser(caller, request.userId, 'You cannot mute yourself.');
    const seconds = checkMuteSeconds(request.durationSeconds);
    const until = seconds === 0 ? null : new Date(this.now() + seconds * 1000);
    await this.onMember(caller, groupId, userId, 'mute', async (tx) => {
      const current = await tx.member(userId);
      const mutedNow = current?.muted_until != null && current.muted_until.getTime() > this.now();
      // Unmuting someone who is not muted changes nothing and says nothing.
      if (until === null && !mutedNow) return;
      await tx.setMutedUntil(userId, until);
      await appendGroupEvent(
        tx,
        actorOf(caller),
        until === null
          ? { $case: 'memberUnmuted', value: { userId } }
          : { $case: 'memberMuted', value: { userId, mutedUntilMs: until.getTime() } },
      );
    });
    return { mutedUntil: until ?? undefined };
  }

  /** A change by the caller on another current member, checked against the table with both roles. */
  private async onMember(
    caller: AccessTokenClaims,
    groupId: string,
    userId: string,
    action: GroupAction,
    work: (tx: GroupTransaction, targetRole: GroupRoleNumber) => Promise<void>,
  ): Promise<void> {
    await this.access.asMember(caller, groupId, async (tx, me) => {
      requireRoleMayEver(action, me.role);
      const target = await tx.member(userId);
      if (!target) throw AppError.failedPrecondition('That user is not a member of this group.', 'GROUP_MEMBER_NOT_FOUND');
      const targetRole = target.role as GroupRoleNumber;
      requireGroupPermission(action, { actorRole: me.role, targetRole });
      await work(tx, targetRole);
    });
  }
}

export function actorOf(caller: AccessTokenClaims): EventActor {
  return { userId: caller.userId, deviceId: caller.deviceId };
}

function otherUser(caller: AccessTokenClaims, value: string, selfMessage: string, field = 'user_id'): string {
  const userId = userIdFrom(value, field);
  if (userId === caller.userId) throw AppError.invalidArgument(selfMessage, 'GROUP_SELF_TARGET');
  return userId;
}

/** NOT_FOUND naming how many of `userIds` auth does not know. */
export async function requireUsersExist(directory: UserDirectory, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  const existing = await directory.existing(userIds);
  const missing = userIds.filter((id) => !existing.has(id));
  if (missing.length > 0) {
    throw AppError.notFound(`There is no user with id ${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}.`, 'USER_NOT_FOUND');
  }
}
