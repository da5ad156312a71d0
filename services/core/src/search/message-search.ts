// SearchMessages: the caller's own conversations' messages, by words or by any
// substring of 2+ characters (so Chinese text matches), newest first, paged.
// What matches and who sees what is MessageSearchStore's.
import { AppError, isUuid, type AccessTokenClaims } from '@im-mesh/platform';
import type { messageV1 } from '@im-mesh/contracts';
import { checkConversationId } from '../messages/message-rules.js';
import { toMessage } from '../messages/message-view.js';
import type { MessageSearchStore } from '../storage/message-search-store.js';

export const MIN_QUERY_LENGTH = 2;
export const MAX_QUERY_LENGTH = 100;
export const DEFAULT_SEARCH_PAGE_SIZE = 20;
export const MAX_SEARCH_PAGE_SIZE = 100;

const CONTROL_CHARS = /\p{Cc}/u;

export class MessageSearch {
  constructor(private readonly store: MessageSearchStore) {}

  async search(caller: AccessTokenClaims, request: messageV1.SearchMessagesRequest): Promise<messageV1.SearchMessagesResponse> {
    const query = request.query.normalize('NFC').trim();
    const length = [...query].length;
    if (length < MIN_QUERY_LENGTH || length > MAX_QUERY_LENGTH || CONTROL_CHARS.test(query)) {
      throw AppError.invalidArgument(
        `query must be ${MIN_QUERY_LENGTH} to ${MAX_QUERY_LENGTH} characters, without control characters.`,
        'SEARCH_QUERY_INVALID',
      );
    }
    const conversationId = request.conversationId === '' ? undefined : checkConversationId(request.conversationId);
    const limit = Math.min(request.pageSize || DEFAULT_SEARCH_PAGE_SIZE, MAX_SEARCH_PAGE_SIZE);
    const beforeMessageId = request.pageToken ? decodeSearchToken(request.pageToken) : undefined;
    const rows = await this.store.search({
      userId: caller.userId,
      query,
      limit: limit + 1,
      ...(conversationId !== undefined && { conversationId }),
      ...(beforeMessageId !== undefined && { beforeMessageId }),
    });
    const page = rows.slice(0, limit);
    return {
      messages: page.map(toMessage),
      nextPageToken: rows.length > limit ? Buffer.from(JSON.stringify({ before: page[page.length - 1]!.id })).toString('base64url') : '',
    };
  }
}

function decodeSearchToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { before?: unknown };
    if (typeof parsed.before === 'string' && isUuid(parsed.before)) return parsed.before;
  } catch {
    // Not our JSON: refused below like any other bad token.
  }
  throw AppError.invalidArgument('page_token is not one this server issued; start again without it.', 'PAGE_TOKEN_INVALID');
}
