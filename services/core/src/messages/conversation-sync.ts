// SyncConversations, ListConversations and PullMessages: the truth a
// (re)connecting client catches up from. Sync lists the caller's conversations
// by id with last_seq and watermarks; the list orders them as a chat app shows
// them (pinned, then by last activity); pull pages one conversation by seq,
// forwards or backwards, showing each message's current state.
import { AppError, type AccessTokenClaims } from '@im-mesh/platform';
import { messageV1 } from '@im-mesh/contracts';
import type { ConversationListCursor, ConversationStateRow, ConversationStore } from '../storage/conversation-store.js';
import { CONVERSATION_DIRECT, type MessageStore } from '../storage/message-store.js';
import { checkConversationId, isIdText, MAX_CONVERSATION_ID_LENGTH, seqFrom } from './message-rules.js';
import { toMessage } from './message-view.js';
import { CONVERSATION_NOT_FOUND } from './send-message.js';

export const DEFAULT_SYNC_PAGE_SIZE = 200;
export const MAX_SYNC_PAGE_SIZE = 500;
export const DEFAULT_LIST_PAGE_SIZE = 50;
export const MAX_LIST_PAGE_SIZE = 200;
export const DEFAULT_PULL_LIMIT = 100;
export const MAX_PULL_LIMIT = 500;

export class ConversationSync {
  constructor(
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
  ) {}

  async sync(caller: AccessTokenClaims, request: messageV1.SyncConversationsRequest): Promise<messageV1.SyncConversationsResponse> {
    const pageSize = Math.min(request.pageSize || DEFAULT_SYNC_PAGE_SIZE, MAX_SYNC_PAGE_SIZE);
    const after = request.pageToken ? decodeSyncToken(request.pageToken) : '';
    // One extra row tells whether another page follows.
    const rows = await this.conversations.page(caller.userId, caller.deviceId, after, pageSize + 1);
    const page = rows.slice(0, pageSize);
    return {
      conversations: page.map(toConversationState),
      nextPageToken: rows.length > pageSize ? encodeToken({ after: page[page.length - 1]!.conversation_id }) : '',
    };
  }

  async list(caller: AccessTokenClaims, request: messageV1.ListConversationsRequest): Promise<messageV1.ListConversationsResponse> {
    const pageSize = Math.min(request.pageSize || DEFAULT_LIST_PAGE_SIZE, MAX_LIST_PAGE_SIZE);
    const after = request.pageToken ? decodeListToken(request.pageToken) : undefined;
    const rows = await this.conversations.list(caller.userId, caller.deviceId, after, pageSize + 1);
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      conversations: page.map(toConversationState),
      nextPageToken: rows.length > pageSize && last ? encodeToken({ list: last.cursor }) : '',
    };
  }

  async updateSettings(
    caller: AccessTokenClaims,
    request: messageV1.UpdateConversationSettingsRequest,
  ): Promise<messageV1.UpdateConversationSettingsResponse> {
    checkConversationId(request.conversationId);
    const settings = {
      ...(request.muted !== undefined && { muted: request.muted }),
      ...(request.pinned !== undefined && { pinned: request.pinned }),
    };
    const member = await this.conversations.updateSettings(request.conversationId, caller.userId, settings);
    if (!member) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    const state = await this.conversations.state(request.conversationId, caller.userId, caller.deviceId);
    if (!state) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    return { conversation: toConversationState(state) };
  }

  async pull(caller: AccessTokenClaims, request: messageV1.PullMessagesRequest): Promise<messageV1.PullMessagesResponse> {
    checkConversationId(request.conversationId);
    const limit = Math.min(request.limit || DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT);
    const afterSeq = seqFrom(request.afterSeq);
    const beforeSeq = seqFrom(request.beforeSeq);
    if (beforeSeq > 0 && beforeSeq <= afterSeq + 1) {
      throw AppError.invalidArgument('before_seq must be more than after_seq + 1, or 0 to page forwards.', 'SEQ_RANGE_EMPTY');
    }
    const result = await this.messages.pull(request.conversationId, caller.userId, { afterSeq, beforeSeq, limit: limit + 1 });
    if (!result.member) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    // One extra row tells whether more follow: past the end forwards, before the start backwards.
    const more = result.rows.length > limit;
    const rows = more ? (beforeSeq > 0 ? result.rows.slice(1) : result.rows.slice(0, limit)) : result.rows;
    return { messages: rows.map(toMessage), hasMore: more };
  }
}

function toConversationState(row: ConversationStateRow): messageV1.ConversationState {
  return {
    conversationId: row.conversation_id,
    type: row.type as messageV1.ConversationType,
    peerUserId: row.type === CONVERSATION_DIRECT ? (row.peer_user_id ?? '') : '',
    lastSeq: row.last_seq,
    readSeq: row.read_seq,
    deliveredSeq: row.delivered_seq,
    peerDeliveredSeq: row.peer_delivered_seq,
    peerReadSeq: row.peer_read_seq,
    lastMessage: row.last_message ? toMessage(row.last_message) : undefined,
    unreadCount: row.unread_count,
    muted: row.muted,
    pinned: row.pinned_at !== null,
    pinnedAt: row.pinned_at ?? undefined,
    hiddenVersion: row.hidden_version,
    firstVisibleAfterSeq: row.joined_seq,
    leftSeq: row.left_seq,
  };
}

// Page tokens are opaque to clients: base64url JSON, so the format can change.
function encodeToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function parseToken(token: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    // Not our JSON: answered by the caller like any other bad token.
    return undefined;
  }
}

function badToken(): AppError {
  return AppError.invalidArgument('page_token is not one this server issued; start again without it.', 'PAGE_TOKEN_INVALID');
}

function decodeSyncToken(token: string): string {
  const after = parseToken(token)?.after;
  // The token is the client's to tamper with: what it names must still be a sane id.
  if (typeof after === 'string' && isIdText(after, MAX_CONVERSATION_ID_LENGTH)) return after;
  throw badToken();
}

function decodeListToken(token: string): ConversationListCursor {
  const list = parseToken(token)?.list as Partial<ConversationListCursor> | undefined;
  if (
    list &&
    Number.isSafeInteger(list.pinnedAtMicros) &&
    Number.isSafeInteger(list.activityMicros) &&
    typeof list.conversationId === 'string' &&
    isIdText(list.conversationId, MAX_CONVERSATION_ID_LENGTH)
  ) {
    return { pinnedAtMicros: list.pinnedAtMicros!, activityMicros: list.activityMicros!, conversationId: list.conversationId };
  }
  throw badToken();
}
