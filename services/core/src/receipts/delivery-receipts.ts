// ReportDelivered (im.internal.v1.DeliveryService): connect nodes report, in
// batches, how far each device got. Core moves the per-device delivered_seq
// watermarks in one statement and sends a DELIVERED receipt to the other
// participants (the senders) for every watermark that moved; groups get no
// broadcast receipts (groups/group-receipts.ts).
import { AppError, isUuid, type Logger } from '@im-mesh/platform';
import { messageV1, type internalV1 } from '@im-mesh/contracts';
import { isIdText, MAX_CONVERSATION_ID_LENGTH, MAX_DEVICE_ID_LENGTH, seqFrom } from '../messages/message-rules.js';
import type { Pusher } from '../push/pusher.js';
import type { ConversationStore, DeliveredReport } from '../storage/conversation-store.js';
import { pushReceipts, type ReceiptDelivery } from './receipt-push.js';
import { receiptAudience } from '../groups/group-receipts.js';

/** Largest batch a connect node may report in one call. */
export const MAX_DELIVERIES_PER_REPORT = 10_000;

export class DeliveryReceipts {
  constructor(
    private readonly store: ConversationStore,
    private readonly pusher: Pusher,
    private readonly logger: Logger,
  ) {}

  async reportDelivered(request: internalV1.ReportDeliveredRequest): Promise<internalV1.ReportDeliveredResponse> {
    if (request.deliveries.length > MAX_DELIVERIES_PER_REPORT) {
      throw AppError.invalidArgument(`Report at most ${MAX_DELIVERIES_PER_REPORT} deliveries per call.`, 'REPORT_TOO_LARGE');
    }
    // Entries that cannot name a member's device (including ids PostgreSQL text
    // cannot hold, such as ones with NUL) are ignored like non-members, so one
    // bad entry does not cost the rest of the batch.
    const reports: DeliveredReport[] = [];
    for (const d of request.deliveries) {
      const userId = d.userId.toLowerCase();
      const seq = seqFrom(d.seq);
      if (
        !isUuid(userId) ||
        !isIdText(d.deviceId, MAX_DEVICE_ID_LENGTH) ||
        !isIdText(d.conversationId, MAX_CONVERSATION_ID_LENGTH) ||
        seq === 0
      ) {
        continue;
      }
      reports.push({ userId, deviceId: d.deviceId, conversationId: d.conversationId, seq });
    }
    const moved = await this.store.recordDelivered(reports);
    if (moved.length === 0) return {};

    // One receipt per (conversation, user): the furthest any of the user's devices got.
    const furthest = new Map<string, { conversationId: string; userId: string; seq: number }>();
    for (const cursor of moved) {
      const key = `${cursor.conversationId}\u0000${cursor.userId}`;
      const known = furthest.get(key);
      if (!known || known.seq < cursor.deliveredSeq) {
        furthest.set(key, { conversationId: cursor.conversationId, userId: cursor.userId, seq: cursor.deliveredSeq });
      }
    }
    const members = await this.store.members([...new Set(moved.map((c) => c.conversationId))]);
    const at = new Date();
    const deliveries: ReceiptDelivery[] = [...furthest.values()].map((entry) => ({
      receipt: {
        conversationId: entry.conversationId,
        userId: entry.userId,
        kind: messageV1.ReceiptKind.RECEIPT_KIND_DELIVERED,
        seq: entry.seq,
        at,
      },
      userIds: receiptAudience(
        entry.conversationId,
        entry.userId,
        'delivered',
        (members.get(entry.conversationId) ?? []).filter((id) => id !== entry.userId),
      ),
    }));
    await pushReceipts(this.pusher, this.logger, deliveries);
    return {};
  }
}
