// PushNotifier: tells an outside push service (APNs/FCM bridge, SMS gateway,
// whatever a team runs) that a message is waiting for a user who has no live
// device, so the phone can be woken. Called by core's outbox relay once a
// message's live pushes are settled.
//
// Contract (every adapter passes push-notifier.contract.ts):
// - `notify` hands one notice to the outside world. It never rejects: pushes
//   are a courtesy (sync is the truth), so an unreachable endpoint is logged and
//   counted, never allowed to hold back message delivery. It resolves once the
//   notice was delivered, or given up on after the adapter's retries.
// - Privacy: the notice carries ids, the sender, the conversation and the
//   content kind. Message text is included only when the adapter was built with
//   `includeText`, and `text` is absent from the payload otherwise.
// - `close` stops retrying, waits for notices in flight and resolves; notices
//   given after close are dropped.

export interface OfflineNotice {
  messageId: string;
  conversationId: string;
  /** Position of the message in its conversation. */
  seq: number;
  senderId: string;
  /** Members of the conversation (not the sender) with no live device. */
  recipientIds: string[];
  /** The content kind, e.g. "text", "image", "social_event". */
  kind: string;
  sentAt: Date;
  /** The message text, for text messages; only sent when the adapter includes text. */
  text?: string;
}

/** The JSON body adapters send or log for one notice. */
export interface OfflineNoticePayload {
  type: 'message.offline';
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
  recipientIds: string[];
  kind: string;
  /** ISO 8601. */
  sentAt: string;
  text?: string;
}

export interface PushNotifier {
  notify(notice: OfflineNotice): Promise<void>;
  close(): Promise<void>;
}

/** The payload of `notice`, with its text only when `includeText`. */
export function offlineNoticePayload(notice: OfflineNotice, includeText: boolean): OfflineNoticePayload {
  const payload: OfflineNoticePayload = {
    type: 'message.offline',
    messageId: notice.messageId,
    conversationId: notice.conversationId,
    seq: notice.seq,
    senderId: notice.senderId,
    recipientIds: [...notice.recipientIds],
    kind: notice.kind,
    sentAt: notice.sentAt.toISOString(),
  };
  if (includeText && notice.text !== undefined) payload.text = notice.text;
  return payload;
}
