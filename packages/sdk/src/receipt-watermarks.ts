// ReceiptWatermarks: receipts are watermarks ("user U has read conversation C up
// to seq S"), so only an increase tells the app something. Pushed receipts and
// the peer watermarks of SyncConversations both pass through here, and the app
// hears each increase once.
import { messageV1 } from '@im-mesh/contracts';

export class ReceiptWatermarks {
  private readonly highest = new Map<string, number>();

  /** True when the receipt moves its watermark forward (and records it). */
  advance(receipt: messageV1.Receipt): boolean {
    const key = `${receipt.conversationId}\u0000${receipt.userId}\u0000${receipt.kind}`;
    if (receipt.seq <= (this.highest.get(key) ?? 0)) return false;
    this.highest.set(key, receipt.seq);
    return true;
  }

  /** The delivered and read receipts a direct conversation's sync state implies about the peer. */
  static fromConversation(state: messageV1.ConversationState): messageV1.Receipt[] {
    if (state.type !== messageV1.ConversationType.CONVERSATION_TYPE_DIRECT || state.peerUserId === '') return [];
    const base = { conversationId: state.conversationId, userId: state.peerUserId, at: undefined };
    return [
      { ...base, kind: messageV1.ReceiptKind.RECEIPT_KIND_DELIVERED, seq: state.peerDeliveredSeq },
      { ...base, kind: messageV1.ReceiptKind.RECEIPT_KIND_READ, seq: state.peerReadSeq },
    ].filter((receipt) => receipt.seq > 0);
  }
}
