// Message events (recall, edit, reaction, pin) arrive as messages of their own,
// in seq order, each naming its target. An app that keeps messages applies them
// with applyMessageEvent; a fresh PullMessages already shows the same final
// state on the target, so a client converges either way. Applying an event
// twice changes nothing the second time.
import type { messageV1 } from '@im-mesh/contracts';

export type MessageEventCase = 'recall' | 'edit' | 'reaction' | 'pin';

/** The id of the message an event changes, or undefined when `message` is not an event. */
export function eventTargetId(message: messageV1.Message): string | undefined {
  const body = message.content?.body;
  switch (body?.$case) {
    case 'recall':
    case 'edit':
    case 'reaction':
    case 'pin':
      return body.value.targetMessageId;
    default:
      return undefined;
  }
}

/**
 * `target` as it is after `event` (a new object; the inputs are not changed).
 * `myUserId` marks reactions as `mine`. An event for another message, or a
 * message that is not an event, returns `target` unchanged.
 */
export function applyMessageEvent(target: messageV1.Message, event: messageV1.Message, myUserId?: string): messageV1.Message {
  const body = event.content?.body;
  if (eventTargetId(event) !== target.messageId || body === undefined) return target;
  switch (body.$case) {
    case 'recall':
      return { ...target, recalled: true, recalledBy: body.value.recalledBy, content: undefined };
    case 'edit':
      // Out-of-order safety: an older edit never overwrites a newer one.
      if (target.recalled || body.value.editCount <= target.editCount) return target;
      return { ...target, content: body.value.content, editCount: body.value.editCount, editedAt: event.sentAt };
    case 'pin':
      return { ...target, pinned: body.value.pinned };
    case 'reaction':
      return { ...target, reactions: withReaction(target.reactions, body.value, myUserId) };
    default:
      return target;
  }
}

function withReaction(
  reactions: readonly messageV1.ReactionSummary[],
  change: messageV1.ReactionEvent,
  myUserId: string | undefined,
): messageV1.ReactionSummary[] {
  const next = reactions.map((r) => ({ ...r, userIds: [...r.userIds] }));
  let summary = next.find((r) => r.emoji === change.emoji);
  const present = summary?.userIds.includes(change.userId) ?? false;
  if (change.added && !present) {
    if (!summary) {
      summary = { emoji: change.emoji, count: 0, userIds: [], mine: false };
      next.push(summary);
    }
    summary.count += 1;
    summary.userIds.push(change.userId);
    if (change.userId === myUserId) summary.mine = true;
  } else if (!change.added && summary && (present || (change.userId === myUserId && summary.mine))) {
    summary.count -= 1;
    summary.userIds = summary.userIds.filter((id) => id !== change.userId);
    if (change.userId === myUserId) summary.mine = false;
  }
  return next.filter((r) => r.count > 0).sort((a, b) => b.count - a.count);
}
