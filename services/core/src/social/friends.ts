// Friend requests and friendships. A request and its acceptance each append a
// SocialEvent to the other user's system conversation in the same transaction
// as the change, so the other user's devices get it pushed when online and by
// sync otherwise, exactly once and in order with their other events.
import { AppError, ErrorCode, uuidv7, type AccessTokenClaims } from '@im-mesh/platform';
import { messageV1, type userV1 } from '@im-mesh/contracts';
import {
  appendSystemMessage,
  REQUEST_ACCEPTED,
  REQUEST_DECLINED,
  type FriendRequestRow,
  type FriendRow,
  type SocialStore,
} from '../storage/social-store.js';
import type { Sql } from '../storage/sql.js';
import type { UserDirectory } from '../upstream/user-directory.js';
import { checkRemark, checkRequestMessage, userIdOf } from './social-rules.js';

const MAX_LISTED_REQUESTS = 500;

export interface FriendSettings {
  requestTtlSeconds: number;
  friendLimit: number;
}

export class Friends {
  constructor(
    private readonly store: SocialStore,
    private readonly directory: UserDirectory,
    private readonly settings: FriendSettings,
    /** Called after a commit that appended events, to wake the outbox relay. */
    private readonly onEventStored: () => void,
  ) {}

  async sendRequest(caller: AccessTokenClaims, request: userV1.SendFriendRequestRequest): Promise<userV1.SendFriendRequestResponse> {
    const to = userIdOf(request.toUserId, 'to_user_id');
    if (to === caller.userId) throw AppError.invalidArgument('You cannot send a friend request to yourself.', 'SELF_FRIEND_REQUEST');
    const message = checkRequestMessage(request.message);
    if (!(await this.directory.existing([to])).has(to)) throw AppError.notFound('There is no user with that id.', 'USER_NOT_FOUND');

    const result = await this.store.transaction(async (tx) => {
      const relation = await this.store.relation(tx, caller.userId, to);
      if (relation.blockedBySelfTarget) throw AppError.permissionDenied('This user does not accept friend requests from you.', 'BLOCKED_BY_RECIPIENT');
      if (relation.selfBlocked) throw AppError.failedPrecondition('You blocked this user. Unblock them first.', 'RECIPIENT_BLOCKED');
      if (relation.friends) throw new AppError(ErrorCode.AlreadyExists, 'You are already friends.', { reason: 'ALREADY_FRIENDS' });
      if (relation.incoming) {
        // They asked first: asking back is accepting.
        await this.acceptIn(tx, relation.incoming);
        return { request: undefined, becameFriends: true };
      }
      const { row, announce } = await this.store.upsertRequest(tx, {
        id: uuidv7(),
        from: caller.userId,
        to,
        message,
        ttlSeconds: this.settings.requestTtlSeconds,
      });
      if (announce) await appendEvent(tx, to, caller.userId, { $case: 'friendRequestReceived', value: requestOf(row) });
      return { request: requestOf(row), becameFriends: false };
    });
    this.onEventStored();
    return result;
  }

  async accept(caller: AccessTokenClaims, request: userV1.AcceptFriendRequestRequest): Promise<userV1.AcceptFriendRequestResponse> {
    const id = userIdOf(request.requestId, 'request_id');
    const friend = await this.store.transaction(async (tx) => {
      const pending = await this.store.pendingRequestTo(tx, id, caller.userId);
      if (!pending) throw requestNotFound();
      const relation = await this.store.relation(tx, caller.userId, pending.from_user_id);
      if (relation.blockedBySelfTarget || relation.selfBlocked) {
        throw AppError.failedPrecondition('One of you blocked the other; unblock before accepting.', 'BLOCKED');
      }
      return this.acceptIn(tx, pending);
    });
    this.onEventStored();
    return { friend: friendOf(friend) };
  }

  async decline(caller: AccessTokenClaims, request: userV1.DeclineFriendRequestRequest): Promise<userV1.DeclineFriendRequestResponse> {
    const id = userIdOf(request.requestId, 'request_id');
    await this.store.transaction(async (tx) => {
      const pending = await this.store.pendingRequestTo(tx, id, caller.userId);
      if (!pending) throw requestNotFound();
      // The sender is not told: their request simply never turns into a friendship.
      await this.store.settleRequest(tx, pending.id, REQUEST_DECLINED);
    });
    return {};
  }

  async listRequests(caller: AccessTokenClaims, request: userV1.ListFriendRequestsRequest): Promise<userV1.ListFriendRequestsResponse> {
    // 1 = incoming, 2 = outgoing, anything else both.
    const incoming = request.direction !== 2;
    const outgoing = request.direction !== 1;
    const rows = await this.store.listRequests(caller.userId, incoming, outgoing, MAX_LISTED_REQUESTS);
    return { requests: rows.map(requestOf) };
  }

  async list(caller: AccessTokenClaims): Promise<userV1.ListFriendsResponse> {
    const rows = await this.store.listFriends(caller.userId, this.settings.friendLimit);
    return { friends: rows.map(friendOf) };
  }

  async setRemark(caller: AccessTokenClaims, request: userV1.SetFriendRemarkRequest): Promise<userV1.SetFriendRemarkResponse> {
    const friendId = userIdOf(request.userId);
    const remark = checkRemark(request.remark);
    const row = await this.store.setRemark(caller.userId, friendId, remark);
    if (!row) throw AppError.notFound('This user is not your friend.', 'NOT_FRIENDS');
    return { friend: friendOf(row) };
  }

  async remove(caller: AccessTokenClaims, request: userV1.RemoveFriendRequest): Promise<userV1.RemoveFriendResponse> {
    await this.store.removeFriend(caller.userId, userIdOf(request.userId));
    return {};
  }

  /** Inside `tx`: makes the two friends, closes their requests and tells the requester. Returns the accepter's side. */
  private async acceptIn(tx: Sql, pending: FriendRequestRow): Promise<FriendRow> {
    const accepter = pending.to_user_id;
    const requester = pending.from_user_id;
    for (const userId of [accepter, requester]) {
      if ((await this.store.friendCount(tx, userId)) >= this.settings.friendLimit) {
        throw AppError.failedPrecondition(`A user can have at most ${this.settings.friendLimit} friends.`, 'FRIEND_LIMIT');
      }
    }
    await this.store.settleRequest(tx, pending.id, REQUEST_ACCEPTED);
    await this.store.supersedeRequestsBetween(tx, accepter, requester);
    const friend = await this.store.befriend(tx, accepter, requester);
    await appendEvent(tx, requester, accepter, { $case: 'friendRequestAccepted', value: requestOf(pending) });
    return friend;
  }
}

async function appendEvent(tx: Sql, userId: string, actorId: string, kind: NonNullable<userV1.SocialEvent['kind']>): Promise<void> {
  const content = messageV1.MessageContent.encode({ body: { $case: 'socialEvent', value: { kind } } }).finish();
  await appendSystemMessage(tx, { messageId: uuidv7(), userId, actorId, content });
}

function requestNotFound(): AppError {
  return AppError.notFound('There is no pending friend request with that id for you (it may have expired).', 'FRIEND_REQUEST_NOT_FOUND');
}

function requestOf(row: FriendRequestRow): userV1.FriendRequest {
  return {
    requestId: row.id,
    fromUserId: row.from_user_id,
    toUserId: row.to_user_id,
    message: row.message,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

function friendOf(row: FriendRow): userV1.Friend {
  return { userId: row.friend_id, remark: row.remark, since: row.created_at };
}
