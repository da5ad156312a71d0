// Group queries: one group, the caller's groups, members, pending join
// requests. Only current members see a group; to anyone else it does not exist.
import { type AccessTokenClaims } from '@im-mesh/platform';
import type { groupV1 } from '@im-mesh/contracts';
import { groupNotFound, type GroupAccess } from './group-access.js';
import { requireGroupPermission, type GroupRoleNumber } from './group-permissions.js';
import { groupIdFrom } from './group-rules.js';
import { decodePageToken, encodePageToken, toGroupMember } from './group-view.js';

export const DEFAULT_GROUP_PAGE_SIZE = 100;
export const MAX_GROUP_PAGE_SIZE = 500;
export const DEFAULT_MEMBER_PAGE_SIZE = 200;
export const MAX_MEMBER_PAGE_SIZE = 1_000;
export const MAX_JOIN_REQUESTS_LISTED = 500;

export class GroupQueries {
  constructor(private readonly access: GroupAccess) {}

  async get(caller: AccessTokenClaims, request: groupV1.GetGroupRequest): Promise<groupV1.GetGroupResponse> {
    return { group: await this.access.viewFor(caller, groupIdFrom(request.groupId)) };
  }

  async listMine(caller: AccessTokenClaims, request: groupV1.ListMyGroupsRequest): Promise<groupV1.ListMyGroupsResponse> {
    const pageSize = Math.min(request.pageSize || DEFAULT_GROUP_PAGE_SIZE, MAX_GROUP_PAGE_SIZE);
    const after = request.pageToken ? decodePageToken(request.pageToken, 'string') : '';
    // One extra row tells whether another page follows.
    const rows = await this.access.store.listOf(caller.userId, after, pageSize + 1);
    const page = rows.slice(0, pageSize);
    return {
      groups: await Promise.all(page.map((row) => this.access.view(row, row.role))),
      nextPageToken: rows.length > pageSize ? encodePageToken(page[page.length - 1]!.id) : '',
    };
  }

  async listMembers(caller: AccessTokenClaims, request: groupV1.ListMembersRequest): Promise<groupV1.ListMembersResponse> {
    const groupId = groupIdFrom(request.groupId);
    const pageSize = Math.min(request.pageSize || DEFAULT_MEMBER_PAGE_SIZE, MAX_MEMBER_PAGE_SIZE);
    const after = request.pageToken ? decodePageToken(request.pageToken, 'number') : 0;
    await this.requireMember(caller, groupId);
    const rows = await this.access.store.members(groupId, after, pageSize + 1);
    const page = rows.slice(0, pageSize);
    const now = new Date();
    return {
      members: page.map((row) => toGroupMember(row, now)),
      nextPageToken: rows.length > pageSize ? encodePageToken(page[page.length - 1]!.join_order) : '',
    };
  }

  async listJoinRequests(caller: AccessTokenClaims, request: groupV1.ListJoinRequestsRequest): Promise<groupV1.ListJoinRequestsResponse> {
    const groupId = groupIdFrom(request.groupId);
    const role = await this.requireMember(caller, groupId);
    requireGroupPermission('reviewJoinRequests', { actorRole: role });
    const rows = await this.access.store.joinRequests(groupId, MAX_JOIN_REQUESTS_LISTED);
    return { requests: rows.map((row) => ({ userId: row.user_id, message: row.message, requestedAt: row.requested_at })) };
  }

  private async requireMember(caller: AccessTokenClaims, groupId: string): Promise<GroupRoleNumber> {
    const found = await this.access.store.read(groupId, caller.userId);
    if (!found?.member) throw groupNotFound();
    return found.member.role as GroupRoleNumber;
  }
}
