// GetReadCounts and GetMessageReaders: group "read by N" and "who has read",
// computed from the members' read watermarks (ReadCountStore), so MarkRead
// stays one row update however large the group. Works for direct
// conversations too (the count is then 0 or 1).
import { AppError, type AccessTokenClaims } from '@im-mesh/platform';
import type { messageV1 } from '@im-mesh/contracts';
import { messageIdFrom } from '../messages/content-rules.js';
import { checkConversationId } from '../messages/message-rules.js';
import { MESSAGE_NOT_FOUND } from '../messages/send-message.js';
import type { ReadCountStore } from '../storage/read-count-store.js';

export const MAX_READ_COUNT_BATCH = 200;

export class GroupReads {
  constructor(private readonly store: ReadCountStore) {}

  async counts(caller: AccessTokenClaims, request: messageV1.GetReadCountsRequest): Promise<messageV1.GetReadCountsResponse> {
    checkConversationId(request.conversationId);
    if (request.messageIds.length === 0 || request.messageIds.length > MAX_READ_COUNT_BATCH) {
      throw AppError.invalidArgument(`Ask for 1 to ${MAX_READ_COUNT_BATCH} messages at a time.`, 'MESSAGE_IDS_COUNT');
    }
    const ids = request.messageIds.map((id) => messageIdFrom(id, 'Every message_ids entry'));
    const rows = await this.store.counts(request.conversationId, caller.userId, [...new Set(ids)]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    const missing = ids.filter((id) => !byId.has(id)).length;
    if (missing > 0) {
      throw AppError.notFound(`${missing} of the messages were not found in this conversation, or you cannot see them.`, 'MESSAGE_NOT_FOUND');
    }
    return {
      counts: ids.map((id) => {
        const row = byId.get(id)!;
        return { messageId: id, readCount: row.read_count, unreadCount: row.unread_count };
      }),
    };
  }

  async readers(caller: AccessTokenClaims, request: messageV1.GetMessageReadersRequest): Promise<messageV1.GetMessageReadersResponse> {
    const messageId = messageIdFrom(request.messageId);
    const rows = await this.store.readers(messageId, caller.userId);
    if (!rows) throw AppError.notFound(MESSAGE_NOT_FOUND, 'MESSAGE_NOT_FOUND');
    return {
      readUserIds: rows.filter((row) => row.has_read).map((row) => row.reader),
      unreadUserIds: rows.filter((row) => !row.has_read).map((row) => row.reader),
    };
  }
}
