// Core's gRPC handlers, kept thin: check who calls, hand the request to the
// feature, return its answer. MessageService sits behind requireAccessToken;
// DeliveryService is internal (connect nodes call it; the edge never routes it).
import { AppError, isUuid, type AccessTokenClaims, type AuthContext } from '@im-mesh/platform';
import type { internalV1, messageV1 } from '@im-mesh/contracts';
import type { ServiceImplementation } from 'nice-grpc';
import type { ConversationSync } from './messages/conversation-sync.js';
import { isIdText, MAX_DEVICE_ID_LENGTH } from './messages/message-rules.js';
import type { MessageEvents } from './messages/message-events.js';
import type { MessageSender } from './messages/send-message.js';
import type { TypingRelay } from './messages/typing-relay.js';
import type { GroupReads } from './receipts/group-reads.js';
import type { MessageSearch } from './search/message-search.js';
import type { DeliveryReceipts } from './receipts/delivery-receipts.js';
import type { ReadReceipts } from './receipts/read-receipts.js';

export interface MessageFeatures {
  sender: MessageSender;
  sync: ConversationSync;
  reads: ReadReceipts;
  events: MessageEvents;
  groupReads: GroupReads;
  search: MessageSearch;
}

export function messageService(
  features: MessageFeatures,
): ServiceImplementation<typeof messageV1.MessageServiceDefinition, AuthContext> {
  return {
    sendMessage: (request, context) => features.sender.send(callerOf(context), request, context.signal),
    syncConversations: (request, context) => features.sync.sync(callerOf(context), request),
    pullMessages: (request, context) => features.sync.pull(callerOf(context), request),
    markRead: (request, context) => features.reads.markRead(callerOf(context), request),
    recallMessage: (request, context) => features.events.recall(callerOf(context), request),
    editMessage: (request, context) => features.events.edit(callerOf(context), request),
    listMessageEdits: (request, context) => features.events.listEdits(callerOf(context), request),
    deleteMessagesForMe: (request, context) => features.events.deleteForMe(callerOf(context), request),
    reactToMessage: (request, context) => features.events.react(callerOf(context), request),
    pinMessage: (request, context) => features.events.pin(callerOf(context), request),
    listPinnedMessages: (request, context) => features.events.listPins(callerOf(context), request),
    listConversations: (request, context) => features.sync.list(callerOf(context), request),
    updateConversationSettings: (request, context) => features.sync.updateSettings(callerOf(context), request),
    getReadCounts: (request, context) => features.groupReads.counts(callerOf(context), request),
    getMessageReaders: (request, context) => features.groupReads.readers(callerOf(context), request),
    searchMessages: (request, context) => features.search.search(callerOf(context), request),
  };
}

export function typingService(relay: TypingRelay): ServiceImplementation<typeof internalV1.TypingServiceDefinition> {
  return {
    relayTyping: (request) => relay.relay(request),
  };
}

export function deliveryService(
  receipts: DeliveryReceipts,
): ServiceImplementation<typeof internalV1.DeliveryServiceDefinition> {
  return {
    reportDelivered: (request) => receipts.reportDelivered(request),
  };
}

/**
 * The verified caller. Core keys rows by user UUID and device id, so a token
 * whose subject is not a UUID, or whose device id could not be stored (auth
 * never issues either), is refused up front.
 */
function callerOf(context: AuthContext): AccessTokenClaims {
  const { auth } = context;
  if (!isUuid(auth.userId) || !isIdText(auth.deviceId, MAX_DEVICE_ID_LENGTH)) {
    throw AppError.unauthenticated('The access token does not name a user and device this service knows.', 'TOKEN_SUBJECT');
  }
  return auth;
}
