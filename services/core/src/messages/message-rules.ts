// What a SendMessage request must satisfy before anything is stored, and the
// id rules every core request shares (checkIdText). Every rule fails with
// INVALID_ARGUMENT and a sentence the sender can act on.
import { AppError, isUuid } from '@im-mesh/platform';
import type { messageV1 } from '@im-mesh/contracts';

export const MAX_CLIENT_MSG_ID_LENGTH = 64;
export const MAX_CONVERSATION_ID_LENGTH = 128;
/** Auth hands out device ids of at most 128 characters. */
export const MAX_DEVICE_ID_LENGTH = 128;
export const MAX_TEXT_LENGTH = 10_000;

// PostgreSQL text columns reject NUL outright (error 22021, which would surface
// as INTERNAL), and other control characters in an id only spoof clients and logs.
const CONTROL_CHARS = /\p{Cc}/u;

/** True when `value` is 1 to `maxLength` characters (code points) without control characters. */
export function isIdText(value: string, maxLength: number): boolean {
  // A code point takes one or two UTF-16 units: cheap bounds before any scan.
  if (value.length === 0 || value.length > 2 * maxLength || CONTROL_CHARS.test(value)) return false;
  if (value.length <= maxLength) return true;
  let count = 0;
  for (const _ of value) if (++count > maxLength) return false;
  return true;
}

/**
 * The shared rule for ids and keys that name things and reach the database:
 * INVALID_ARGUMENT naming `field` unless isIdText holds. `hint` ends the sentence.
 */
export function checkIdText(field: string, value: string, maxLength: number, hint = ''): string {
  if (!isIdText(value, maxLength)) {
    throw AppError.invalidArgument(
      `${field} must be 1 to ${maxLength} characters, without control characters${hint}.`,
      `${field.toUpperCase()}_INVALID`,
    );
  }
  return value;
}

export function checkClientMsgId(clientMsgId: string): string {
  return checkIdText('client_msg_id', clientMsgId, MAX_CLIENT_MSG_ID_LENGTH, ' (a UUID is a good choice)');
}

export function checkConversationId(conversationId: string): string {
  return checkIdText('conversation_id', conversationId, MAX_CONVERSATION_ID_LENGTH);
}

/** A user id from a request, lowercased; INVALID_ARGUMENT unless it is a UUID. */
export function userIdFrom(value: string, field: string): string {
  const id = value.trim().toLowerCase();
  if (!isUuid(id)) throw AppError.invalidArgument(`${field} must be a user id (a UUID).`, 'USER_ID_INVALID');
  return id;
}

export interface CheckedContent {
  content: messageV1.MessageContent;
  /** Distinct lowercase user ids mentioned; each must be a participant. */
  mentionUserIds: string[];
}

/** Checks the content and returns it normalised (mention ids lowercased and deduplicated). */
export function checkContent(content: messageV1.MessageContent | undefined): CheckedContent {
  const body = content?.body;
  if (!body) throw AppError.invalidArgument('content is required and must be a kind of message this server supports (text).', 'CONTENT_MISSING');
  switch (body.$case) {
    case 'text': {
      const { text } = body.value;
      // Count characters as people see them (code points), not UTF-16 units.
      const length = [...text].length;
      if (length === 0 || text.trim().length === 0) {
        throw AppError.invalidArgument('A text message cannot be empty or only whitespace.', 'TEXT_EMPTY');
      }
      if (length > MAX_TEXT_LENGTH) {
        throw AppError.invalidArgument(`A text message can have at most ${MAX_TEXT_LENGTH} characters.`, 'TEXT_TOO_LONG');
      }
      // Stored inside protobuf bytes today, but NUL means nothing in a chat message
      // and would break any text column (a search index, an export) it reaches later.
      if (text.includes('\u0000')) {
        throw AppError.invalidArgument('text must not contain the NUL character (U+0000).', 'TEXT_INVALID');
      }
      const mentionUserIds = [...new Set(body.value.mentionUserIds.map((id) => userIdFrom(id, 'Every mention_user_ids entry')))];
      return { content: { body: { $case: 'text', value: { text, mentionUserIds } } }, mentionUserIds };
    }
    default:
      throw AppError.invalidArgument('This kind of message content is not supported.', 'CONTENT_KIND_UNKNOWN');
  }
}

/**
 * A seq from a request (uint64 on the wire) as a safe integer for SQL. Seqs are
 * capped at last_seq wherever they are stored, so clamping an absurd value to
 * 2^53-1 changes no answer, and keeps bigint parameters in range.
 */
export function seqFrom(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  return Math.min(Math.floor(value), Number.MAX_SAFE_INTEGER);
}
