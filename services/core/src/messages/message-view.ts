// Stored message rows as the im.message.v1.Message clients see.
import { messageV1 } from '@im-mesh/contracts';
import type { MessageRow } from '../storage/message-store.js';

export function toMessage(row: MessageRow): messageV1.Message {
  return {
    messageId: row.id,
    conversationId: row.conversation_id,
    seq: row.seq,
    senderId: row.sender_id,
    senderDeviceId: row.sender_device_id,
    clientMsgId: row.client_msg_id,
    content: messageV1.MessageContent.decode(row.content),
    sentAt: row.created_at,
  };
}
