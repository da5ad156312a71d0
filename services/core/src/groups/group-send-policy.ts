// The group half of SendMessage's policy (a SendPolicy, read just before the
// message is written, so a mute committed before the send is always seen): a dissolved
// group takes no messages, a former member is told the group is not theirs, a
// muted member waits, and while mute-all is on only the owner and admins speak.
// Also the group's RecallAuthority: owners and admins recall others' messages.
import { isDirectConversationId } from '../messages/direct-conversation.js';
import { AppError } from '@im-mesh/platform';
import { CONVERSATION_NOT_FOUND } from '../messages/send-message.js';
import type { RecallAuthority, SendAttempt, SendPolicy } from '../messages/send-policy.js';
import { groupSendState, groupSendStates, type GroupSendState } from '../storage/group-store.js';
import type { Sql } from '../storage/sql.js';
import { decideGroupPermission, groupPermissionRefusal, type GroupRoleNumber } from './group-permissions.js';

/** Direct and system conversations are never groups: no lookup on their sends. */
function isGroupAttempt(attempt: SendAttempt): boolean {
  return !isDirectConversationId(attempt.conversationId) && !attempt.conversationId.startsWith('sys:');
}

export class GroupSendPolicy implements SendPolicy, RecallAuthority {
  constructor(
    /** Milliseconds since the epoch; for tests. */
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws the refusal, if any; does nothing for conversations that are not groups. */
  async check(tx: Sql, attempt: SendAttempt): Promise<void> {
    if (!isGroupAttempt(attempt)) return;
    const refusal = this.refusal(await groupSendState(tx, attempt.conversationId, attempt.senderId));
    if (refusal) throw refusal;
  }

  async checkMany(tx: Sql, attempts: readonly SendAttempt[]): Promise<Array<AppError | undefined>> {
    const groupAttempts = attempts.filter(isGroupAttempt);
    const states = await groupSendStates(
      tx,
      groupAttempts.map((attempt) => ({ groupId: attempt.conversationId, userId: attempt.senderId })),
    );
    let next = 0;
    return attempts.map((attempt) => (isGroupAttempt(attempt) ? this.refusal(states[next++]) : undefined));
  }

  /** Why `state` refuses a send, if it does; no state: not a group, nothing to say. */
  private refusal(state: GroupSendState | undefined): AppError | undefined {
    if (!state) return undefined;
    if (state.dissolved) return AppError.failedPrecondition('This group was dissolved; it takes no new messages.', 'GROUP_DISSOLVED');
    if (!state.member) return AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    const mutedUntil = state.member.muted_until;
    if (mutedUntil !== null && mutedUntil.getTime() > this.now()) {
      return AppError.permissionDenied(`You are muted in this group until ${mutedUntil.toISOString()}.`, 'GROUP_MEMBER_MUTED');
    }
    return groupPermissionRefusal('send', { actorRole: state.member.role as GroupRoleNumber, muteAll: state.muteAll });
  }

  async mayRecallOthers(tx: Sql, conversationId: string, actorId: string): Promise<boolean> {
    const state = await groupSendState(tx, conversationId, actorId);
    if (!state?.member || state.dissolved) return false;
    return decideGroupPermission('recallOthers', { actorRole: state.member.role as GroupRoleNumber }).allowed;
  }
}
