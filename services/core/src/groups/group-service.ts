// GroupService's gRPC handlers, kept thin: check who calls, hand the request to
// the feature, return its answer. Mounted behind requireAccessToken.
import { AppError, isUuid, type AccessTokenClaims, type AuthContext } from '@im-mesh/platform';
import type { groupV1 } from '@im-mesh/contracts';
import type { ServiceImplementation } from 'nice-grpc';
import { isIdText, MAX_DEVICE_ID_LENGTH } from '../messages/message-rules.js';
import type { GroupLifecycle } from './group-lifecycle.js';
import type { GroupMembership } from './group-membership.js';
import type { GroupQueries } from './group-queries.js';

export interface GroupFeatures {
  lifecycle: GroupLifecycle;
  membership: GroupMembership;
  reads: GroupQueries;
}

export function groupService(
  features: GroupFeatures,
): ServiceImplementation<typeof groupV1.GroupServiceDefinition, AuthContext> {
  const { lifecycle, membership, reads } = features;
  return {
    createGroup: (request, context) => lifecycle.create(callerOf(context), request),
    getGroup: (request, context) => reads.get(callerOf(context), request),
    listMyGroups: (request, context) => reads.listMine(callerOf(context), request),
    listMembers: (request, context) => reads.listMembers(callerOf(context), request),
    updateGroup: (request, context) => lifecycle.update(callerOf(context), request),
    setGroupAvatar: (request, context) => lifecycle.setAvatar(callerOf(context), request),
    inviteMembers: (request, context) => membership.invite(callerOf(context), request),
    joinGroup: (request, context) => membership.join(callerOf(context), request),
    listJoinRequests: (request, context) => reads.listJoinRequests(callerOf(context), request),
    reviewJoinRequest: (request, context) => membership.review(callerOf(context), request),
    leaveGroup: (request, context) => membership.leave(callerOf(context), request),
    kickMember: (request, context) => membership.kick(callerOf(context), request),
    setMemberRole: (request, context) => membership.setRole(callerOf(context), request),
    transferOwnership: (request, context) => membership.transferOwnership(callerOf(context), request),
    muteMember: (request, context) => membership.mute(callerOf(context), request),
    setMuteAll: (request, context) => lifecycle.setMuteAll(callerOf(context), request),
    dissolveGroup: (request, context) => lifecycle.dissolve(callerOf(context), request),
  };
}

/**
 * The verified caller. Group events are stored with the caller's user UUID and
 * device id, so a token naming anything else (auth never issues one) is refused.
 */
function callerOf(context: AuthContext): AccessTokenClaims {
  const { auth } = context;
  if (!isUuid(auth.userId) || !isIdText(auth.deviceId, MAX_DEVICE_ID_LENGTH)) {
    throw AppError.unauthenticated('The access token does not name a user and device this service knows.', 'TOKEN_SUBJECT');
  }
  return auth;
}
