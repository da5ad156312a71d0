// Turns "these members had no live device for this message" into an offline
// push notice (packages/platform push-notifier port). Notices go out in the
// background: a slow webhook never holds back the relay, and the notifier's
// own bound caps how many wait.
import { messageV1 } from '@im-mesh/contracts';
import type { Logger, OfflineNotice, PushNotifier } from '@im-mesh/platform';
import type { MessageRow } from '../storage/message-store.js';

/** Kind names as in the MessageContent oneof, in snake_case ("text", "image", "social_event"). */
function kindName(content: messageV1.MessageContent): string {
  const name = content.body?.$case ?? 'unknown';
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

export function offlineNotifier(notifier: PushNotifier, logger: Logger): (message: MessageRow, offlineUserIds: string[]) => void {
  return (message, offlineUserIds) => {
    let content: messageV1.MessageContent;
    try {
      content = messageV1.MessageContent.decode(message.content);
    } catch (error) {
      // The relay already reschedules undecodable rows; a notice for one is not worth more noise.
      logger.debug({ err: error, messageId: message.id }, 'no offline notice for a message that cannot be decoded');
      return;
    }
    const notice: OfflineNotice = {
      messageId: message.id,
      conversationId: message.conversation_id,
      seq: Number(message.seq),
      senderId: message.sender_id,
      recipientIds: offlineUserIds,
      kind: kindName(content),
      sentAt: message.created_at,
    };
    if (content.body?.$case === 'text') notice.text = content.body.value.text;
    // notify() never rejects (port contract); the catch only guards against a broken adapter.
    void notifier.notify(notice).catch((error: unknown) => logger.warn({ err: error }, 'offline push notifier failed'));
  };
}
