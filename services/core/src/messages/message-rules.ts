// The id rules every core request shares (checkIdText, user ids, seqs). Every
// rule fails with INVALID_ARGUMENT and a sentence the sender can act on. What
// message content must satisfy is in content-rules.ts.
import { AppError, isUuid } from '@im-mesh/platform';

export const MAX_CLIENT_MSG_ID_LENGTH = 64;
export const MAX_CONVERSATION_ID_LENGTH = 128;
/** Auth hands out device ids of at most 128 characters. */
export const MAX_DEVICE_ID_LENGTH = 128;

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

/**
 * A seq from a request (uint64 on the wire) as a safe integer for SQL. Seqs are
 * capped at last_seq wherever they are stored, so clamping an absurd value to
 * 2^53-1 changes no answer, and keeps bigint parameters in range.
 */
export function seqFrom(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  return Math.min(Math.floor(value), Number.MAX_SAFE_INTEGER);
}
