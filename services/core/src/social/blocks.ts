// Block lists: a blocked user cannot message the blocker (the send policy
// refuses with PERMISSION_DENIED) nor send them friend requests; blocking also
// declines the requests they already sent. Friendships are kept, so unblocking
// restores things as they were.
import { AppError, type AccessTokenClaims } from '@im-mesh/platform';
import type { userV1 } from '@im-mesh/contracts';
import type { SocialStore } from '../storage/social-store.js';
import { userIdOf } from './social-rules.js';

const MAX_LISTED_BLOCKS = 5_000;

export class Blocks {
  constructor(private readonly store: SocialStore) {}

  async block(caller: AccessTokenClaims, request: userV1.BlockUserRequest): Promise<userV1.BlockUserResponse> {
    const userId = userIdOf(request.userId);
    if (userId === caller.userId) throw AppError.invalidArgument('You cannot block yourself.', 'SELF_BLOCK');
    await this.store.block(caller.userId, userId);
    return {};
  }

  async unblock(caller: AccessTokenClaims, request: userV1.UnblockUserRequest): Promise<userV1.UnblockUserResponse> {
    await this.store.unblock(caller.userId, userIdOf(request.userId));
    return {};
  }

  async list(caller: AccessTokenClaims): Promise<userV1.ListBlockedUsersResponse> {
    const rows = await this.store.listBlocked(caller.userId, MAX_LISTED_BLOCKS);
    return { users: rows.map((row) => ({ userId: row.blocked_user_id, blockedAt: row.created_at })) };
  }
}
