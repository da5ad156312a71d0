// MarkRead: moves the caller's read watermark (never backwards, never past
// last_seq) and tells the other participants' devices, and the caller's other
// devices, with a READ receipt (in groups only the caller's other devices:
// groups/group-receipts.ts).
import { AppError, type AccessTokenClaims, type Logger } from '@im-mesh/platform';
import { messageV1 } from '@im-mesh/contracts';
import { checkConversationId, seqFrom } from '../messages/message-rules.js';
import { CONVERSATION_NOT_FOUND } from '../messages/send-message.js';
import type { Pusher } from '../push/pusher.js';
import type { ConversationStore } from '../storage/conversation-store.js';
import { pushReceipts } from './receipt-push.js';
import { receiptAudience } from '../groups/group-receipts.js';

export class ReadReceipts {
  constructor(
    private readonly store: ConversationStore,
    private readonly pusher: Pusher,
    private readonly logger: Logger,
  ) {}

  async markRead(caller: AccessTokenClaims, request: messageV1.MarkReadRequest): Promise<messageV1.MarkReadResponse> {
    checkConversationId(request.conversationId);
    const result = await this.store.markRead(request.conversationId, caller.userId, seqFrom(request.seq));
    if (!result.member) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    if (result.moved) {
      const members = (await this.store.members([request.conversationId])).get(request.conversationId) ?? [];
      await pushReceipts(this.pusher, this.logger, [
        {
          receipt: {
            conversationId: request.conversationId,
            userId: caller.userId,
            kind: messageV1.ReceiptKind.RECEIPT_KIND_READ,
            seq: result.readSeq,
            at: new Date(),
          },
          userIds: receiptAudience(request.conversationId, caller.userId, 'read', members),
          // The device that marked it read already knows.
          skip: (route) => route.userId === caller.userId && route.deviceId === caller.deviceId,
        },
      ]);
    }
    return { readSeq: result.readSeq };
  }
}
