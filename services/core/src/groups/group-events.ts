// Appends a GroupEvent to the group's own conversation inside the change's
// transaction, through the same insert as every send (seq, message, outbox row;
// the relay is woken after the commit): live devices get it pushed by the outbox relay, offline
// devices pull it like any message.
import { randomUUID } from 'node:crypto';
import { uuidv7 } from '@im-mesh/platform';
import { messageV1 } from '@im-mesh/contracts';
import { CONTENT_KIND } from '../messages/content-kind.js';
import type { GroupTransaction } from '../storage/group-store.js';
import { storeMessageIn, type StoredMessage } from '../storage/message-store.js';

/**
 * The sender of events no person caused (a regenerated avatar): the nil UUID,
 * which no account can have. Its device is "server".
 */
export const SERVER_SENDER_ID = '00000000-0000-0000-0000-000000000000';
export const SERVER_DEVICE_ID = 'server';

export type GroupChange = NonNullable<messageV1.GroupEvent['change']>;

export interface EventActor {
  userId: string;
  deviceId: string;
}

/** Appends `change` made by `actor`; returns the stored event (its seq ends a leaver's window). */
export async function appendGroupEvent(tx: GroupTransaction, actor: EventActor, change: GroupChange): Promise<StoredMessage> {
  const content: messageV1.MessageContent = {
    body: { $case: 'groupEvent', value: { actorUserId: actor.userId === SERVER_SENDER_ID ? '' : actor.userId, change } },
  };
  const stored = await storeMessageIn(tx.sql, {
    messageId: uuidv7(),
    conversationId: tx.group.id,
    senderId: actor.userId,
    senderDeviceId: actor.deviceId,
    // Unique per sender like any client_msg_id; events are never retried by id.
    clientMsgId: `group-event:${randomUUID()}`,
    content: messageV1.MessageContent.encode(content).finish(),
    kind: CONTENT_KIND.groupEvent,
    searchText: null,
  });
  // The conversation row is locked by this transaction, so it cannot vanish.
  if (!stored) throw new Error(`group conversation ${tx.group.id} is missing`);
  return stored;
}
