// Recall, edit, reactions and pins: each change is one transaction that checks
// the caller may make it, updates the target message's state, and appends a
// sequenced event message naming the target (RecallEvent, EditEvent,
// ReactionEvent, PinEvent) through the same seq + outbox path as any message.
// Live devices apply the pushed event; offline devices pull and see both the
// target's final state and the events. Delete-for-me is per-user state instead
// (a shared seq cannot carry a message only one member sees): pulls show
// tombstones, ConversationState.hidden_version moves, and the user's other live
// devices get a MessagesHidden hint.
import { AppError, uuidv7, type AccessTokenClaims, type Logger } from '@im-mesh/platform';
import { messageV1, type connectV1 } from '@im-mesh/contracts';
import type { Pusher } from '../push/pusher.js';
import { storeMessageIn, type StoredMessage } from '../storage/message-store.js';
import type { MessageStateStore, MessageStateTx, TargetRow } from '../storage/message-state-store.js';
import { CONTENT_KIND, EDITABLE_CASES, isPersonKind, searchTextOf } from './content-kind.js';
import { checkContent, messageIdFrom } from './content-rules.js';
import { checkConversationId } from './message-rules.js';
import { toMessage } from './message-view.js';
import { CONVERSATION_NOT_FOUND, MESSAGE_NOT_FOUND } from './send-message.js';
import { SENDERS_ONLY, type RecallAuthority } from './send-policy.js';

export const MAX_EMOJI_LENGTH = 32;
export const MAX_REACTIONS_PER_USER = 20;
export const MAX_PINS_PER_CONVERSATION = 50;
export const MAX_HIDE_BATCH = 100;

const CONTROL_OR_SPACE = /[\p{Cc}\s]/u;

export interface MessageEventsOptions {
  /** How long after sending a sender may recall, in seconds (CORE_RECALL_WINDOW_SECONDS). */
  recallWindowSeconds: number;
  /** Who may recall other people's messages (group owners and admins). */
  recallAuthority?: RecallAuthority;
  /** Called after each commit that appended an event, to wake the outbox relay. */
  onStored: () => void;
  /** Tells the user's other live devices about delete-for-me (a hint; failures are logged). */
  pusher?: Pusher;
  logger?: Logger;
}

export class MessageEvents {
  private readonly recallAuthority: RecallAuthority;

  constructor(
    private readonly store: MessageStateStore,
    private readonly options: MessageEventsOptions,
  ) {
    this.recallAuthority = options.recallAuthority ?? SENDERS_ONLY;
  }

  async recall(caller: AccessTokenClaims, request: messageV1.RecallMessageRequest): Promise<messageV1.RecallMessageResponse> {
    const messageId = messageIdFrom(request.messageId);
    const event = await this.store.transaction(async (tx) => {
      const target = await actionable(tx, messageId, caller.userId);
      if (target.recalled) {
        // Idempotent: a retry (or a second recaller) gets the first recall's event.
        const first = await tx.recallEvent(target.id);
        if (first) return { stored: false, event: first };
        throw AppError.failedPrecondition('This message was already recalled.', 'ALREADY_RECALLED');
      }
      if (!isPersonKind(target.kind)) {
        throw AppError.failedPrecondition('Notices and events cannot be recalled.', 'KIND_NOT_RECALLABLE');
      }
      if (target.sender_id === caller.userId) {
        const ageSeconds = (Date.now() - target.created_at.getTime()) / 1000;
        if (ageSeconds > this.options.recallWindowSeconds && !(await this.recallAuthority.mayRecallOthers(tx.sql, target.conversation_id, caller.userId))) {
          throw AppError.failedPrecondition(
            `Messages can only be recalled within ${describeSeconds(this.options.recallWindowSeconds)} of sending.`,
            'RECALL_WINDOW_PASSED',
          );
        }
      } else if (!(await this.recallAuthority.mayRecallOthers(tx.sql, target.conversation_id, caller.userId))) {
        throw AppError.permissionDenied('Only the sender (or a group owner or admin) can recall this message.', 'RECALL_NOT_ALLOWED');
      }
      const stored = await appendEvent(tx, caller, target.conversation_id, {
        body: { $case: 'recall', value: { targetMessageId: target.id, targetSeq: target.seq, recalledBy: caller.userId } },
      });
      await tx.markRecalled(target.id, caller.userId, stored.messageId);
      return { stored: true, event: stored };
    });
    if (event.stored) this.options.onStored();
    return { eventMessageId: event.event.messageId, eventSeq: event.event.seq };
  }

  async edit(caller: AccessTokenClaims, request: messageV1.EditMessageRequest): Promise<messageV1.EditMessageResponse> {
    const messageId = messageIdFrom(request.messageId);
    const { content } = checkContent(request.content);
    const result = await this.store.transaction(async (tx) => {
      const target = await actionable(tx, messageId, caller.userId);
      if (target.sender_id !== caller.userId) {
        throw AppError.permissionDenied('Only the sender can edit a message.', 'EDIT_NOT_ALLOWED');
      }
      if (target.recalled) throw AppError.failedPrecondition('A recalled message cannot be edited.', 'MESSAGE_RECALLED');
      const current = messageV1.MessageContent.decode(target.content);
      const currentCase = current.body?.$case;
      if (!currentCase || !EDITABLE_CASES.has(currentCase)) {
        throw AppError.failedPrecondition('Only text messages and replies can be edited.', 'KIND_NOT_EDITABLE');
      }
      if (content.body?.$case !== currentCase) {
        throw AppError.invalidArgument(`The new content must be ${currentCase} content, like the message.`, 'EDIT_KIND_CHANGED');
      }
      let edited = content;
      if (current.body?.$case === 'reply' && content.body.$case === 'reply') {
        if (content.body.value.quotedMessageId !== current.body.value.quotedMessageId) {
          throw AppError.invalidArgument('An edit cannot change which message a reply quotes.', 'EDIT_QUOTE_CHANGED');
        }
        const { quotedSenderId, quotedSeq } = current.body.value;
        edited = { body: { $case: 'reply', value: { ...content.body.value, quotedSenderId, quotedSeq } } };
      }
      await requireMentionsAreMembers(tx, target.conversation_id, edited);
      const editCount = target.edit_count + 1;
      const encoded = messageV1.MessageContent.encode(edited).finish();
      await tx.replaceContent(target.id, target.content, encoded, searchTextOf(edited), editCount);
      const stored = await appendEvent(tx, caller, target.conversation_id, {
        body: { $case: 'edit', value: { targetMessageId: target.id, targetSeq: target.seq, content: edited, editCount } },
      });
      return { stored, editCount };
    });
    this.options.onStored();
    return { eventMessageId: result.stored.messageId, eventSeq: result.stored.seq, editCount: result.editCount };
  }

  async listEdits(caller: AccessTokenClaims, request: messageV1.ListMessageEditsRequest): Promise<messageV1.ListMessageEditsResponse> {
    const messageId = messageIdFrom(request.messageId);
    const target = await this.store.target(messageId, caller.userId);
    if (!target || !target.visible || target.hidden) throw AppError.notFound(MESSAGE_NOT_FOUND, 'MESSAGE_NOT_FOUND');
    // A recall withdraws every version, not only the latest.
    if (target.recalled) return { edits: [] };
    const edits = await this.store.edits(messageId);
    return {
      edits: edits.map((e) => ({ version: e.version, content: messageV1.MessageContent.decode(e.content), replacedAt: e.replaced_at })),
    };
  }

  async react(caller: AccessTokenClaims, request: messageV1.ReactToMessageRequest): Promise<messageV1.ReactToMessageResponse> {
    const messageId = messageIdFrom(request.messageId);
    const emoji = checkEmoji(request.emoji);
    const result = await this.store.transaction(async (tx) => {
      const target = await actionable(tx, messageId, caller.userId);
      if (target.recalled) throw AppError.failedPrecondition('A recalled message cannot get reactions.', 'MESSAGE_RECALLED');
      if (!isPersonKind(target.kind)) throw AppError.failedPrecondition('Notices and events cannot get reactions.', 'KIND_NOT_REACTABLE');
      let changed: boolean;
      if (request.remove) {
        changed = await tx.removeReaction(target.id, caller.userId, emoji);
      } else {
        if ((await tx.reactionCount(target.id, caller.userId)) >= MAX_REACTIONS_PER_USER) {
          // Re-adding one already there is still a no-op, not an error.
          changed = false;
          const already = target.reactions?.some((r) => r.emoji === emoji && r.mine) ?? false;
          if (!already) {
            throw AppError.failedPrecondition(`You can add at most ${MAX_REACTIONS_PER_USER} different reactions to a message.`, 'TOO_MANY_REACTIONS');
          }
        } else {
          changed = await tx.addReaction(target.id, caller.userId, emoji);
        }
      }
      if (!changed) return undefined;
      return appendEvent(tx, caller, target.conversation_id, {
        body: { $case: 'reaction', value: { targetMessageId: target.id, targetSeq: target.seq, userId: caller.userId, emoji, added: !request.remove } },
      });
    });
    if (!result) return { changed: false, eventMessageId: '', eventSeq: 0 };
    this.options.onStored();
    return { changed: true, eventMessageId: result.messageId, eventSeq: result.seq };
  }

  async pin(caller: AccessTokenClaims, request: messageV1.PinMessageRequest): Promise<messageV1.PinMessageResponse> {
    const messageId = messageIdFrom(request.messageId);
    const result = await this.store.transaction(async (tx) => {
      const target = await actionable(tx, messageId, caller.userId);
      let changed: boolean;
      if (request.unpin) {
        changed = await tx.unpin(target.conversation_id, target.id);
      } else {
        if (target.recalled) throw AppError.failedPrecondition('A recalled message cannot be pinned.', 'MESSAGE_RECALLED');
        if (!isPersonKind(target.kind)) throw AppError.failedPrecondition('Notices and events cannot be pinned.', 'KIND_NOT_PINNABLE');
        if (target.pinned) {
          changed = false;
        } else {
          if ((await tx.pinCount(target.conversation_id)) >= MAX_PINS_PER_CONVERSATION) {
            throw AppError.failedPrecondition(
              `A conversation can hold at most ${MAX_PINS_PER_CONVERSATION} pinned messages; unpin one first.`,
              'TOO_MANY_PINS',
            );
          }
          changed = await tx.pin(target.conversation_id, target.id, caller.userId);
        }
      }
      if (!changed) return undefined;
      return appendEvent(tx, caller, target.conversation_id, {
        body: { $case: 'pin', value: { targetMessageId: target.id, targetSeq: target.seq, pinnedBy: caller.userId, pinned: !request.unpin } },
      });
    });
    if (!result) return { changed: false, eventMessageId: '', eventSeq: 0 };
    this.options.onStored();
    return { changed: true, eventMessageId: result.messageId, eventSeq: result.seq };
  }

  async listPins(caller: AccessTokenClaims, request: messageV1.ListPinnedMessagesRequest): Promise<messageV1.ListPinnedMessagesResponse> {
    checkConversationId(request.conversationId);
    const rows = await this.store.pins(request.conversationId, caller.userId);
    if (!rows) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    return { messages: rows.map(toMessage) };
  }

  async deleteForMe(
    caller: AccessTokenClaims,
    request: messageV1.DeleteMessagesForMeRequest,
  ): Promise<messageV1.DeleteMessagesForMeResponse> {
    checkConversationId(request.conversationId);
    if (request.messageIds.length === 0 || request.messageIds.length > MAX_HIDE_BATCH) {
      throw AppError.invalidArgument(`Name 1 to ${MAX_HIDE_BATCH} messages to delete.`, 'MESSAGE_IDS_COUNT');
    }
    const ids = [...new Set(request.messageIds.map((id) => messageIdFrom(id, 'Every message_ids entry')))];
    const result = await this.store.hide(request.conversationId, caller.userId, ids);
    if (!result) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
    if (result.unknown === 0 && result.changed) await this.tellOtherDevices(caller, request.conversationId, ids, result.hiddenVersion);
    if (result.unknown > 0) {
      // All or none: nothing was hidden.
      throw AppError.notFound(
        `${result.unknown} of the messages were not found in this conversation, or you cannot see them; nothing was deleted.`,
        'MESSAGE_NOT_FOUND',
      );
    }
    return { hiddenVersion: result.hiddenVersion };
  }

  /**
   * Pushes MessagesHidden to the caller's other live devices. A hint only: a
   * device that misses it sees hidden_version move on its next sync, so a
   * failure is logged and the call still succeeds.
   */
  private async tellOtherDevices(caller: AccessTokenClaims, conversationId: string, messageIds: string[], hiddenVersion: number): Promise<void> {
    const { pusher, logger } = this.options;
    if (!pusher) return;
    try {
      const routes = ((await pusher.routesOf([caller.userId])).get(caller.userId) ?? []).filter((r) => r.deviceId !== caller.deviceId);
      if (routes.length === 0) return;
      const frame: connectV1.ServerFrame = { kind: { $case: 'messagesHidden', value: { conversationId, messageIds, hiddenVersion } } };
      await pusher.publish('hidden', `hidden:${caller.userId}:${conversationId}:${hiddenVersion}`, routes, frame);
    } catch (error) {
      logger?.warn({ err: error, conversationId }, 'delete-for-me hint not pushed (other devices see it on sync)');
    }
  }
}

/** The target of an event: a message the caller can see, in a conversation they are still in; locked until commit. */
async function actionable(tx: MessageStateTx, messageId: string, userId: string): Promise<TargetRow> {
  const target = await tx.target(messageId, userId, true);
  if (!target || !target.visible || !target.active) throw AppError.notFound(MESSAGE_NOT_FOUND, 'MESSAGE_NOT_FOUND');
  return target;
}

async function appendEvent(tx: MessageStateTx, caller: AccessTokenClaims, conversationId: string, content: messageV1.MessageContent): Promise<StoredMessage> {
  const stored = await storeMessageIn(tx.sql, {
    messageId: uuidv7(),
    conversationId,
    senderId: caller.userId,
    senderDeviceId: caller.deviceId,
    // Events have no client key; a fresh one keeps (sender, client_msg_id) unique.
    clientMsgId: `event:${uuidv7()}`,
    content: messageV1.MessageContent.encode(content).finish(),
    kind: CONTENT_KIND[content.body!.$case],
    searchText: null,
  });
  // The conversation row was read through the target just now; it cannot vanish mid-transaction
  // except by a cascade delete, which takes the target with it.
  if (!stored) throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
  return stored;
}

async function requireMentionsAreMembers(tx: MessageStateTx, conversationId: string, content: messageV1.MessageContent): Promise<void> {
  const body = content.body;
  const mentions = body?.$case === 'text' || body?.$case === 'reply' ? body.value.mentionUserIds : [];
  if (mentions.length === 0) return;
  const [row] = await tx.sql.rows<{ n: number }>(
    'SELECT count(*)::int AS n FROM conversation_members WHERE conversation_id = $1 AND user_id = ANY($2::uuid[]) AND left_seq IS NULL',
    [conversationId, mentions],
  );
  if (row!.n !== mentions.length) {
    throw AppError.invalidArgument('Only participants of the conversation can be mentioned.', 'MENTION_NOT_PARTICIPANT');
  }
}

function checkEmoji(value: string): string {
  const emoji = value.normalize('NFC');
  const length = [...emoji].length;
  if (length === 0 || length > MAX_EMOJI_LENGTH || CONTROL_OR_SPACE.test(emoji)) {
    throw AppError.invalidArgument(`emoji must be 1 to ${MAX_EMOJI_LENGTH} characters, without spaces or control characters.`, 'EMOJI_INVALID');
  }
  return emoji;
}

function describeSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minute${seconds === 60 ? '' : 's'}` : `${seconds} seconds`;
}
