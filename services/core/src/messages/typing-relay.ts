// RelayTyping (im.internal.v1.TypingService): a connect node hands over a
// TypingUpdate it received; core checks the sender is a current member of the
// conversation and pushes a TypingIndicator to the other members' live devices
// (never to the typist's own devices), in conversations of up to
// MAX_TYPING_AUDIENCE members. Nothing is stored and nothing goes
// through the outbox: a lost indicator only means a typing hint is not shown,
// and the next update (clients repeat them every few seconds) shows it.
import { AppError, isUuid, uuidv7 } from '@im-mesh/platform';
import type { connectV1, internalV1 } from '@im-mesh/contracts';
import type { Pusher } from '../push/pusher.js';
import type { ConversationStore } from '../storage/conversation-store.js';
import { checkConversationId, isIdText, MAX_DEVICE_ID_LENGTH } from './message-rules.js';
import { CONVERSATION_NOT_FOUND } from './send-message.js';

/**
 * Conversations with more current members than this get no typing indicators:
 * in a crowd "someone is typing" says nothing, and each update would cost a
 * presence lookup of every member.
 */
export const MAX_TYPING_AUDIENCE = 200;

export class TypingRelay {
  constructor(
    private readonly conversations: ConversationStore,
    private readonly pusher: Pusher,
  ) {}

  async relay(request: internalV1.RelayTypingRequest): Promise<internalV1.RelayTypingResponse> {
    const userId = request.userId.toLowerCase();
    if (!isUuid(userId) || !isIdText(request.deviceId, MAX_DEVICE_ID_LENGTH)) {
      throw AppError.invalidArgument('user_id must be a user id (a UUID) and device_id 1 to 128 characters.', 'TYPIST_INVALID');
    }
    checkConversationId(request.conversationId);
    const members = await this.conversations.currentMembers(request.conversationId);
    if (!members.includes(userId)) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    const others = members.filter((id) => id !== userId);
    if (others.length === 0 || others.length >= MAX_TYPING_AUDIENCE) return { devices: 0 };
    const routes = [...(await this.pusher.routesOf(others)).values()].flat();
    if (routes.length === 0) return { devices: 0 };
    const frame: connectV1.ServerFrame = {
      kind: { $case: 'typing', value: { conversationId: request.conversationId, userId, typing: request.typing } },
    };
    // A fresh id per update: consumers dedupe messages by id, and two updates are two hints.
    await this.pusher.publish('typing', `typing:${uuidv7()}`, routes, frame);
    return { devices: routes.length };
  }
}
