// Receipts in groups are not broadcast. In a direct chat a delivered or read
// receipt goes to the other participant; in a group of N members the same rule
// would push every member's every ack to N-1 others, N^2 pushes per message.
// Groups are read-diffused instead: senders ask GetReadCounts/GetMessageReaders,
// computed from the watermarks. The one push kept is a member's READ receipt to
// their own other devices, so reading on the phone clears the unread badge on
// the laptop.
import { isGroupId } from './group-rules.js';

/**
 * Who should see a receipt of `kind` by `userId`, given the users a direct
 * chat would tell (`directAudience`). For groups: the reader's own devices for
 * READ, nobody for DELIVERED.
 */
export function receiptAudience(conversationId: string, userId: string, kind: 'delivered' | 'read', directAudience: readonly string[]): readonly string[] {
  if (!isGroupId(conversationId)) return directAudience;
  return kind === 'read' ? [userId] : [];
}
