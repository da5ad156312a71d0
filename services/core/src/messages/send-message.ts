// SendMessage: validate, resolve the target conversation and what a reply or
// forward names, then store in one transaction (MessageStore.send, which runs
// the send policies inside it) and only then answer. A reply means durable; the
// outbox relay pushes the message afterwards.
import { AppError, uuidv7, type AccessTokenClaims } from '@im-mesh/platform';
import { encodeMessage, messageV1 } from '@im-mesh/contracts';
import type { CoreMetrics } from '../core-metrics.js';
import type { CheckMany, MessageStore, NewMessage } from '../storage/message-store.js';
import type { Sql } from '../storage/sql.js';
import type { MessageStateStore, TargetRow } from '../storage/message-state-store.js';
import type { UserDirectory } from '../upstream/user-directory.js';
import { kindOf, isPersonKind, searchTextOf } from './content-kind.js';
import { checkContent } from './content-rules.js';
import { directConversationId } from './direct-conversation.js';
import { checkMediaFiles } from './media-file-check.js';
import { checkClientMsgId, checkConversationId, userIdFrom } from './message-rules.js';
import type { SendAttempt, SendPolicy } from './send-policy.js';
import { crashPoint } from '../faults/crash-point.js';
import { checkFileReferences, fileIdsOf, recordMessageFiles } from '../files/file-references.js';

/** Same words whether the conversation is missing or the caller is not in it: existence is not leaked. */
export const CONVERSATION_NOT_FOUND = 'Conversation not found, or you are not a member of it.';
/** Same words whether the message is missing or outside what the caller may see. */
export const MESSAGE_NOT_FOUND = 'Message not found, or you cannot see it.';

export class MessageSender {
  constructor(
    private readonly store: MessageStore,
    private readonly state: MessageStateStore,
    private readonly directory: UserDirectory,
    private readonly metrics: CoreMetrics,
    /** Called after each commit that created a message, to wake the outbox relay at once. */
    private readonly onStored: () => void,
    /** Run in order inside the send transaction (send-policy.ts). */
    private readonly policies: readonly SendPolicy[] = [],
  ) {}

  /**
   * The policies' verdicts on many sends without files (for those, the whole
   * check): each policy once for all of them; the first refusal of a send, in
   * the policies' order, is its verdict, as when `check` throws it. Every
   * policy is asked at once (they only read): their statements go out back to
   * back on the send's connection instead of one event-loop turn apart.
   */
  private readonly checkPolicies: CheckMany = async (tx, messages) => {
    const attempts = messages.map(attemptOf);
    const answers = await Promise.all(this.policies.map((policy) => policy.checkMany(tx, attempts)));
    return messages.map((_, i) => answers.find((answered) => answered[i] !== undefined)?.[i]);
  };

  async send(caller: AccessTokenClaims, request: messageV1.SendMessageRequest, signal?: AbortSignal): Promise<messageV1.SendMessageResponse> {
    checkClientMsgId(request.clientMsgId);
    const target = request.target;
    if (!target) {
      throw AppError.invalidArgument('Say where the message goes: set conversation_id or to_user_id.', 'TARGET_MISSING');
    }
    const checked = checkContent(request.content);
    const { mentionUserIds } = checked;

    let conversationId: string;
    let peer: string | undefined;
    if (target.$case === 'toUserId') {
      peer = userIdFrom(target.value, 'to_user_id');
      if (peer === caller.userId) throw AppError.invalidArgument('You cannot send a message to yourself.', 'SELF_MESSAGE');
      const participants = new Set([caller.userId, peer]);
      if (mentionUserIds.some((id) => !participants.has(id))) throw mentionError();
      conversationId = directConversationId(caller.userId, peer);
    } else {
      conversationId = checkConversationId(target.value);
    }
    const content = await this.resolveReferences(caller, conversationId, checked.content);
    const kind = kindOf(content);

    const attempt: SendAttempt = { conversationId, senderId: caller.userId, kind, ...(peer !== undefined && { peerId: peer }) };
    const messageId = uuidv7();
    const fileIds = fileIdsOf(content);
    const message: NewMessage = {
      messageId,
      conversationId,
      senderId: caller.userId,
      senderDeviceId: caller.deviceId,
      clientMsgId: request.clientMsgId,
      content: encodeMessage(messageV1.MessageContent, content),
      mentionUserIds,
      kind,
      searchText: searchTextOf(content),
      // Who may download a file follows the messages that carry it (files/file-references.ts).
      // Only then does a send write more than its message (which keeps its transaction; MessageStore.writeIn).
      ...(fileIds.length > 0 && { afterStore: (tx: Sql) => recordMessageFiles(tx, messageId, fileIds) }),
      check: async (tx) => {
        for (const policy of this.policies) await policy.check(tx, attempt);
        await checkFileReferences(tx, caller.userId, fileIds);
        await checkMediaFiles(tx, content);
      },
      // Without files, the verdict depends only on who sends what kind where
      // (the policies' SendAttempt), so sends written together share one check,
      // and those of many conversations are checked together.
      ...(fileIds.length === 0 && { sharedCheck: { key: `${caller.userId}|${kind}`, checkMany: this.checkPolicies } }),
      ...(peer !== undefined && { directMembers: [caller.userId, peer] as const }),
    };

    let outcome = await this.store.send(message, signal);
    if (outcome.kind === 'peer_unconfirmed' && peer !== undefined) {
      // A new direct conversation: ask auth whether the peer exists (only now; once
      // the conversation exists both users did), then store for real.
      const existing = await this.directory.existing([peer]);
      if (!existing.has(peer)) throw AppError.notFound('There is no user with that id.', 'USER_NOT_FOUND');
      outcome = await this.store.send({ ...message, peerConfirmed: true }, signal);
    }
    switch (outcome.kind) {
      case 'not_member':
      case 'peer_unconfirmed':
        throw AppError.notFound(CONVERSATION_NOT_FOUND, 'CONVERSATION_NOT_FOUND');
      case 'unknown_mention':
        throw mentionError();
      case 'stored':
        crashPoint('after-commit');
        this.onStored();
        this.metrics.messagesSent.inc({ result: 'stored' });
        break;
      case 'duplicate':
        // It may be this very send, committed by a transaction whose answer was
        // lost and redone: wake the relay as for a new one (at worst one empty pass).
        this.onStored();
        this.metrics.messagesSent.inc({ result: 'duplicate' });
        break;
    }
    const stored = outcome.message;
    return {
      messageId: stored.messageId,
      conversationId: stored.conversationId,
      seq: stored.seq,
      sentAt: stored.sentAt,
      duplicate: outcome.kind === 'duplicate',
    };
  }

  /**
   * Fills what the server owns in a reply (the quoted sender and seq) or a
   * forward (the copied content, its original sender and time), after checking
   * that the caller can see the message named. Other kinds pass unchanged.
   * A retry of a stored send resolves again; its answer is the original anyway.
   */
  private async resolveReferences(
    caller: AccessTokenClaims,
    conversationId: string,
    content: messageV1.MessageContent,
  ): Promise<messageV1.MessageContent> {
    const body = content.body;
    if (body?.$case === 'reply') {
      const quoted = await this.visibleMessage(caller.userId, body.value.quotedMessageId, 'The quoted message');
      if (quoted.conversation_id !== conversationId) {
        throw AppError.invalidArgument('A reply can only quote a message of the same conversation.', 'QUOTE_OTHER_CONVERSATION');
      }
      return { body: { $case: 'reply', value: { ...body.value, quotedSenderId: quoted.sender_id, quotedSeq: quoted.seq } } };
    }
    if (body?.$case === 'forward') {
      const source = await this.visibleMessage(caller.userId, body.value.sourceMessageId, 'The forwarded message');
      const original = messageV1.MessageContent.decode(source.content);
      const forward = forwardedCopy(original, source);
      return { body: { $case: 'forward', value: { sourceMessageId: source.id, ...forward } } };
    }
    return content;
  }

  /** A message of a kind people write that `userId` can see now; INVALID_ARGUMENT otherwise (nothing is sent). */
  private async visibleMessage(userId: string, messageId: string, what: string): Promise<TargetRow> {
    const row = await this.state.target(messageId, userId);
    if (!row || !row.visible || row.hidden) {
      throw AppError.invalidArgument(`${what} was not found, or you cannot see it.`, 'REFERENCED_MESSAGE_NOT_FOUND');
    }
    if (row.recalled) throw AppError.invalidArgument(`${what} was recalled.`, 'REFERENCED_MESSAGE_RECALLED');
    if (!isPersonKind(row.kind)) {
      throw AppError.invalidArgument(`${what} is a notice or an event, which cannot be quoted or forwarded.`, 'REFERENCED_MESSAGE_KIND');
    }
    return row;
  }
}

/**
 * What a forward carries: a forwarded forward carries its first original; a
 * reply travels as plain text (its quote belongs to the other conversation);
 * mentions are dropped, since they named people of the other conversation.
 */
function forwardedCopy(
  original: messageV1.MessageContent,
  source: TargetRow,
): Pick<messageV1.ForwardContent, 'content' | 'originalSenderId' | 'originalSentAt'> {
  const body = original.body;
  switch (body?.$case) {
    case 'forward':
      return { content: body.value.content, originalSenderId: body.value.originalSenderId, originalSentAt: body.value.originalSentAt };
    case 'reply':
      return {
        content: { body: { $case: 'text', value: { text: body.value.text, mentionUserIds: [] } } },
        originalSenderId: source.sender_id,
        originalSentAt: source.created_at,
      };
    case 'text':
      return {
        content: { body: { $case: 'text', value: { text: body.value.text, mentionUserIds: [] } } },
        originalSenderId: source.sender_id,
        originalSentAt: source.created_at,
      };
    default:
      return { content: original, originalSenderId: source.sender_id, originalSentAt: source.created_at };
  }
}

/** The SendAttempt a stored send was made as (a direct conversation's peer follows from its id, as the social policy reads it). */
function attemptOf(message: NewMessage): SendAttempt {
  return { conversationId: message.conversationId, senderId: message.senderId, kind: message.kind };
}

function mentionError(): AppError {
  return AppError.invalidArgument('Only participants of the conversation can be mentioned.', 'MENTION_NOT_PARTICIPANT');
}
