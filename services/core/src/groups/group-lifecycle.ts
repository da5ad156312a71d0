// A group's life and its own fields: create, update texts and settings,
// mute-all, a custom picture, dissolve. Each change and its GroupEvent commit
// together; a refusal writes nothing.
import { uuidv7, type AccessTokenClaims } from '@im-mesh/platform';
import type { groupV1 } from '@im-mesh/contracts';
import type { GroupUpdate } from '../storage/group-store.js';
import type { UserDirectory } from '../upstream/user-directory.js';
import { groupNotFound, type GroupAccess } from './group-access.js';
import { appendGroupEvent, type GroupChange } from './group-events.js';
import { actorOf, requireUsersExist } from './group-membership.js';
import { requireGroupPermission, type GroupRoleNumber } from './group-permissions.js';
import {
  checkClientRequestId,
  checkGroupName,
  checkGroupText,
  checkJoinPolicy,
  GROUP_ID_PREFIX,
  groupIdFrom,
  MAX_ANNOUNCEMENT_LENGTH,
  MAX_NOTICE_LENGTH,
  userIdsFrom,
} from './group-rules.js';

/** Stores a custom group picture (validated and re-encoded) and returns its blob key. */
export interface CustomAvatarStore {
  store(groupId: string, image: Uint8Array): Promise<string>;
}

export class GroupLifecycle {
  constructor(
    private readonly access: GroupAccess,
    private readonly directory: UserDirectory,
    private readonly customAvatars: CustomAvatarStore,
  ) {}

  async create(caller: AccessTokenClaims, request: groupV1.CreateGroupRequest): Promise<groupV1.CreateGroupResponse> {
    const name = checkGroupName(request.name);
    const memberIds = userIdsFrom(request.memberUserIds, 'member_user_ids', this.access.memberLimit - 1, caller.userId);
    const joinPolicy = checkJoinPolicy(request.joinPolicy);
    const clientRequestId = checkClientRequestId(request.clientRequestId);
    await requireUsersExist(this.directory, memberIds);
    const { groupId } = await this.access.store.create(
      {
        id: `${GROUP_ID_PREFIX}${uuidv7()}`,
        name,
        ownerId: caller.userId,
        memberIds,
        joinPolicy,
        historyVisible: request.historyVisibleToNewMembers,
        clientRequestId,
      },
      async (tx) => {
        await appendGroupEvent(tx, actorOf(caller), { $case: 'created', value: { name, memberUserIds: [caller.userId, ...memberIds] } });
      },
    );
    this.access.options.onChanged();
    return { group: await this.access.viewFor(caller, groupId) };
  }

  async update(caller: AccessTokenClaims, request: groupV1.UpdateGroupRequest): Promise<groupV1.UpdateGroupResponse> {
    const groupId = groupIdFrom(request.groupId);
    const name = request.name === undefined ? undefined : checkGroupName(request.name);
    const notice = request.notice === undefined ? undefined : checkGroupText('notice', request.notice, MAX_NOTICE_LENGTH);
    const announcement =
      request.announcement === undefined ? undefined : checkGroupText('announcement', request.announcement, MAX_ANNOUNCEMENT_LENGTH);
    const joinPolicy = request.joinPolicy === undefined ? undefined : checkJoinPolicy(request.joinPolicy);
    const historyVisible = request.historyVisibleToNewMembers;

    await this.access.asMember(caller, groupId, async (tx, me) => {
      const { group } = tx;
      const changes: GroupUpdate = {};
      const events: GroupChange[] = [];
      if (name !== undefined || notice !== undefined || announcement !== undefined) requireGroupPermission('editProfile', { actorRole: me.role });
      if (joinPolicy !== undefined || historyVisible !== undefined) requireGroupPermission('editSettings', { actorRole: me.role });
      if (name !== undefined && name !== group.name) {
        changes.name = name;
        events.push({ $case: 'renamed', value: { name } });
      }
      if (notice !== undefined && notice !== group.notice) {
        changes.notice = notice;
        events.push({ $case: 'noticeChanged', value: { notice } });
      }
      if (announcement !== undefined && announcement !== group.announcement) {
        changes.announcement = announcement;
        events.push({ $case: 'announcementChanged', value: { announcement } });
      }
      const policyChanged = joinPolicy !== undefined && joinPolicy !== group.join_policy;
      const historyChanged = historyVisible !== undefined && historyVisible !== group.history_visible;
      if (policyChanged) changes.join_policy = joinPolicy;
      if (historyChanged) changes.history_visible = historyVisible;
      if (policyChanged || historyChanged) {
        events.push({
          $case: 'settingsChanged',
          value: { joinPolicy: joinPolicy ?? group.join_policy, historyVisibleToNewMembers: historyVisible ?? group.history_visible },
        });
      }
      await tx.update(changes);
      for (const event of events) await appendGroupEvent(tx, actorOf(caller), event);
    });
    return { group: await this.access.viewFor(caller, groupId) };
  }

  async setAvatar(caller: AccessTokenClaims, request: groupV1.SetGroupAvatarRequest): Promise<groupV1.SetGroupAvatarResponse> {
    const groupId = groupIdFrom(request.groupId);
    // Permission is checked before the picture is stored, and again in the
    // transaction (the caller's role may change in between).
    const before = await this.access.store.read(groupId, caller.userId);
    if (!before?.member) throw groupNotFound();
    requireGroupPermission('editProfile', { actorRole: before.member.role as GroupRoleNumber });
    const key = request.image.length > 0 ? await this.customAvatars.store(groupId, request.image) : null;
    await this.access.asMember(caller, groupId, async (tx, me) => {
      requireGroupPermission('editProfile', { actorRole: me.role });
      if (key === null && tx.group.custom_avatar_key === null) return;
      await tx.update({ custom_avatar_key: key });
      // Clearing brings the generated picture back: it may be stale by now.
      if (key === null) await tx.touchAvatar();
      await appendGroupEvent(tx, actorOf(caller), { $case: 'avatarChanged', value: { custom: key !== null } });
    });
    return { group: await this.access.viewFor(caller, groupId) };
  }

  async setMuteAll(caller: AccessTokenClaims, request: groupV1.SetMuteAllRequest): Promise<groupV1.SetMuteAllResponse> {
    const groupId = groupIdFrom(request.groupId);
    await this.access.asMember(caller, groupId, async (tx, me) => {
      requireGroupPermission('setMuteAll', { actorRole: me.role });
      if (tx.group.mute_all === request.enabled) return;
      await tx.update({ mute_all: request.enabled });
      await appendGroupEvent(tx, actorOf(caller), { $case: 'muteAllChanged', value: { enabled: request.enabled } });
    });
    return {};
  }

  async dissolve(caller: AccessTokenClaims, request: groupV1.DissolveGroupRequest): Promise<groupV1.DissolveGroupResponse> {
    const groupId = groupIdFrom(request.groupId);
    await this.access.asMember(caller, groupId, async (tx, me) => {
      requireGroupPermission('dissolve', { actorRole: me.role });
      const event = await appendGroupEvent(tx, actorOf(caller), { $case: 'dissolved', value: {} });
      await tx.dissolve(event.seq);
    });
    return {};
  }
}
