// Stored message rows as the im.message.v1.Message clients see. A bare row (the
// relay's push) shows the message as stored; a view row (pull, pins, search)
// adds its current state for the viewer: a recalled message or one deleted for
// the viewer has no content, an edited one shows its latest content.
import { messageV1 } from '@im-mesh/contracts';
import type { MessageRow } from '../storage/message-store.js';
import type { MessageViewRow } from '../storage/message-view-sql.js';

export function toMessage(row: MessageRow | MessageViewRow): messageV1.Message {
  const view = 'recalled' in row ? row : undefined;
  const withheld = view !== undefined && (view.recalled || view.hidden);
  return {
    messageId: row.id,
    conversationId: row.conversation_id,
    seq: row.seq,
    senderId: row.sender_id,
    senderDeviceId: row.sender_device_id,
    clientMsgId: row.client_msg_id,
    content: withheld ? undefined : messageV1.MessageContent.decode(row.content),
    sentAt: row.created_at,
    recalled: view?.recalled ?? false,
    recalledBy: view?.recalled_by ?? '',
    editCount: view?.edit_count ?? 0,
    editedAt: view?.edited_at ?? undefined,
    reactions: (view?.reactions ?? []).map((r) => ({ emoji: r.emoji, count: r.count, userIds: r.users, mine: r.mine })),
    pinned: view?.pinned ?? false,
    deletedForMe: view?.hidden ?? false,
  };
}
