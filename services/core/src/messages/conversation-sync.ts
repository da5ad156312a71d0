// SyncConversations and PullMessages: the truth a (re)connecting client catches
// up from. Sync lists the caller's conversations with last_seq and watermarks;
// pull returns one conversation's messages after a seq, in seq order.
import { AppError, type AccessTokenClaims } from '@im-mesh/platform';
import { messageV1 } from '@im-mesh/contracts';
import type { ConversationStore } from '../storage/conversation-store.js';
import { CONVERSATION_DIRECT, type MessageStore } from '../storage/message-store.js';
import { checkConversationId, isIdText, MAX_CONVERSATION_ID_LENGTH, seqFrom } from './message-rules.js';
import { toMessage } from './message-view.js';
import { CONVERSATION_NOT_FOUND } from './send-message.js';

export const DEFAULT_SYNC_PAGE_SIZE = 200;
export const MAX_SYNC_PAGE_SIZE = 500;
export const DEFAULT_PULL_LIMIT = 100;
export const MAX_PULL_LIMIT = 500;

export class ConversationSync {
  constructor(
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
  ) {}

  async sync(caller: AccessTokenClaims, request: messageV1.SyncConversationsRequest): Promise<messageV1.SyncConversationsResponse> {
    const pageSize = Math.min(request.pageSize || DEFAULT_SYNC_PAGE_SIZE, MAX_SYNC_PAGE_SIZE);
    const after = request.pageToken ? decodePageToken(request.pageToken) : '';
    // One extra row tells whether another page follows.
    const rows = await this.conversations.page(caller.userId, caller.deviceId, after, pageSize + 1);
    const page = rows.slice(0, pageSize);
    return {
      conversations: page.map((row) => ({
        conversationId: row.conversation_id,
        type: row.type as messageV1.ConversationType,
        peerUserId: row.type === CONVERSATION_DIRECT ? (row.peer_user_id ?? '') : '',
        lastSeq: row.last_seq,
        readSeq: row.read_seq,
        deliveredSeq: row.delivered_seq,
        peerDeliveredSeq: row.peer_delivered_seq,
        peerReadSeq: row.peer_read_seq,
        lastMessage: row.last_message ? toMessage(row.last_message) : undefined,
      })),
      nextPageToken: rows.length > pageSize ? encodePageToken(page[page.length - 1]!.conversation_id) : '',
    };
  }

  async pull(caller: AccessTokenClaims, request: messageV1.PullMessagesRequest): Promise<messageV1.PullMessagesResponse> {
    checkConversationId(request.conversationId);
    const limit = Math.min(request.limit || DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT);
    const result = await this.messages.pull(request.conversationId, caller.userId, seqFrom(request.afterSeq), limit + 1);
    if (!result.member) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    return { messages: result.rows.slice(0, limit).map(toMessage), hasMore: result.rows.length > limit };
  }
}

// Page tokens are opaque to clients: base64url JSON, so the format can change.
function encodePageToken(afterConversationId: string): string {
  return Buffer.from(JSON.stringify({ after: afterConversationId })).toString('base64url');
}

function decodePageToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    // The token is the client's to tamper with: what it names must still be a sane id.
    if (typeof parsed.after === 'string' && isIdText(parsed.after, MAX_CONVERSATION_ID_LENGTH)) return parsed.after;
  } catch {
    // Not our JSON: answered below like any other bad token.
  }
  throw AppError.invalidArgument('page_token is not one this server issued; start again without it.', 'PAGE_TOKEN_INVALID');
}
