// UserService's gRPC handlers, kept thin: who calls, then the feature.
import type { AuthContext } from '@im-mesh/platform';
import type { userV1 } from '@im-mesh/contracts';
import type { ServiceImplementation } from 'nice-grpc';
import { verifiedUser } from '../caller.js';
import type { Blocks } from './blocks.js';
import type { Friends } from './friends.js';
import type { Profiles } from './profiles.js';

export interface SocialFeatures {
  profiles: Profiles;
  friends: Friends;
  blocks: Blocks;
}

export function userService({ profiles, friends, blocks }: SocialFeatures): ServiceImplementation<typeof userV1.UserServiceDefinition, AuthContext> {
  return {
    getMe: (_request, context) => profiles.getMe(verifiedUser(context)),
    updateProfile: (request, context) => profiles.updateProfile(verifiedUser(context), request),
    // Any signed-in user may look others up; the caller is still verified first.
    getUsers: async (request, context) => {
      verifiedUser(context);
      return profiles.getUsers(request);
    },
    searchUsers: async (request, context) => {
      verifiedUser(context);
      return profiles.searchUsers(request);
    },
    updatePrivacy: (request, context) => profiles.updatePrivacy(verifiedUser(context), request),
    sendFriendRequest: (request, context) => friends.sendRequest(verifiedUser(context), request),
    acceptFriendRequest: (request, context) => friends.accept(verifiedUser(context), request),
    declineFriendRequest: (request, context) => friends.decline(verifiedUser(context), request),
    listFriendRequests: (request, context) => friends.listRequests(verifiedUser(context), request),
    listFriends: (_request, context) => friends.list(verifiedUser(context)),
    setFriendRemark: (request, context) => friends.setRemark(verifiedUser(context), request),
    removeFriend: (request, context) => friends.remove(verifiedUser(context), request),
    blockUser: (request, context) => blocks.block(verifiedUser(context), request),
    unblockUser: (request, context) => blocks.unblock(verifiedUser(context), request),
    listBlockedUsers: (_request, context) => blocks.list(verifiedUser(context)),
  };
}
