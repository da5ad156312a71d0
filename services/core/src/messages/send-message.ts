// SendMessage: validate, resolve the target conversation, then store in one
// transaction (MessageStore.send) and only then answer. A reply means durable;
// the outbox relay pushes the message afterwards.
import { AppError, uuidv7, type AccessTokenClaims } from '@im-mesh/platform';
import { messageV1 } from '@im-mesh/contracts';
import type { CoreMetrics } from '../core-metrics.js';
import type { MessageStore, NewMessage } from '../storage/message-store.js';
import type { UserDirectory } from '../upstream/user-directory.js';
import { directConversationId } from './direct-conversation.js';
import { checkClientMsgId, checkContent, checkConversationId, userIdFrom } from './message-rules.js';
import { crashPoint } from '../faults/crash-point.js';

/** Same words whether the conversation is missing or the caller is not in it: existence is not leaked. */
export const CONVERSATION_NOT_FOUND = 'Conversation not found, or you are not a member of it.';

export class MessageSender {
  constructor(
    private readonly store: MessageStore,
    private readonly directory: UserDirectory,
    private readonly metrics: CoreMetrics,
    /** Called after each commit that created a message, to wake the outbox relay at once. */
    private readonly onStored: () => void,
  ) {}

  async send(caller: AccessTokenClaims, request: messageV1.SendMessageRequest): Promise<messageV1.SendMessageResponse> {
    checkClientMsgId(request.clientMsgId);
    const target = request.target;
    if (!target) {
      throw AppError.invalidArgument('Say where the message goes: set conversation_id or to_user_id.', 'TARGET_MISSING');
    }
    const { content, mentionUserIds } = checkContent(request.content);

    const message: NewMessage = {
      messageId: uuidv7(),
      conversationId: '',
      senderId: caller.userId,
      senderDeviceId: caller.deviceId,
      clientMsgId: request.clientMsgId,
      content: messageV1.MessageContent.encode(content).finish(),
      mentionUserIds,
    };

    let peer: string | undefined;
    if (target.$case === 'toUserId') {
      peer = userIdFrom(target.value, 'to_user_id');
      if (peer === caller.userId) throw AppError.invalidArgument('You cannot send a message to yourself.', 'SELF_MESSAGE');
      const participants = new Set([caller.userId, peer]);
      if (mentionUserIds.some((id) => !participants.has(id))) throw mentionError();
      message.conversationId = directConversationId(caller.userId, peer);
      message.directMembers = [caller.userId, peer];
    } else {
      message.conversationId = checkConversationId(target.value);
    }

    let outcome = await this.store.send(message);
    if (outcome.kind === 'peer_unconfirmed' && peer !== undefined) {
      // A new direct conversation: ask auth whether the peer exists (only now; once
      // the conversation exists both users did), then store for real.
      const existing = await this.directory.existing([peer]);
      if (!existing.has(peer)) throw AppError.notFound('There is no user with that id.', 'USER_NOT_FOUND');
      outcome = await this.store.send({ ...message, peerConfirmed: true });
    }
    switch (outcome.kind) {
      case 'not_member':
      case 'peer_unconfirmed':
        throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
      case 'unknown_mention':
        throw mentionError();
      case 'stored':
        crashPoint('after-commit');
        this.onStored();
        this.metrics.messagesSent.inc({ result: 'stored' });
        break;
      case 'duplicate':
        this.metrics.messagesSent.inc({ result: 'duplicate' });
        break;
    }
    const stored = outcome.message;
    return {
      messageId: stored.messageId,
      conversationId: stored.conversationId,
      seq: stored.seq,
      sentAt: stored.sentAt,
      duplicate: outcome.kind === 'duplicate',
    };
  }
}

function mentionError(): AppError {
  return AppError.invalidArgument('Only participants of the conversation can be mentioned.', 'MENTION_NOT_PARTICIPANT');
}
