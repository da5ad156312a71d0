// What group requests must satisfy before anything is read or written. Every
// rule fails with INVALID_ARGUMENT and a sentence the caller can act on.
import { AppError, isUuid } from '@im-mesh/platform';
import { messageV1 } from '@im-mesh/contracts';
import { userIdFrom } from '../messages/message-rules.js';
import { JOIN_POLICY_APPROVAL, JOIN_POLICY_OPEN } from './group-permissions.js';

export const GROUP_ID_PREFIX = 'g:';
export const MAX_GROUP_NAME_LENGTH = 64;
export const MAX_NOTICE_LENGTH = 1_000;
export const MAX_ANNOUNCEMENT_LENGTH = 4_000;
export const MAX_JOIN_MESSAGE_LENGTH = 200;
export const MAX_INVITES_PER_CALL = 100;
export const MAX_MUTE_SECONDS = 30 * 24 * 3600;
export const MAX_CLIENT_REQUEST_ID_LENGTH = 64;

// Control characters in a name spoof other clients' layouts; newlines are fine
// in a notice or announcement.
const CONTROL_CHARS = /\p{Cc}/u;
const CONTROL_EXCEPT_NEWLINES = /[^\P{Cc}\n\r\t]/u;

export function isGroupId(value: string): boolean {
  return value.startsWith(GROUP_ID_PREFIX) && isUuid(value.slice(GROUP_ID_PREFIX.length));
}

/** A group id from a request; INVALID_ARGUMENT unless it looks like one ("g:" and a UUID). */
export function groupIdFrom(value: string): string {
  const id = value.trim().toLowerCase();
  if (!isGroupId(id)) throw AppError.invalidArgument('group_id must be a group id ("g:" followed by a UUID).', 'GROUP_ID_INVALID');
  return id;
}

function length(text: string): number {
  return [...text].length;
}

export function checkGroupName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw AppError.invalidArgument('A group name cannot be empty or only whitespace.', 'GROUP_NAME_EMPTY');
  if (length(trimmed) > MAX_GROUP_NAME_LENGTH) {
    throw AppError.invalidArgument(`A group name can have at most ${MAX_GROUP_NAME_LENGTH} characters.`, 'GROUP_NAME_TOO_LONG');
  }
  if (CONTROL_CHARS.test(trimmed)) throw AppError.invalidArgument('A group name cannot contain control characters.', 'GROUP_NAME_INVALID');
  return trimmed;
}

/** Notice, announcement or join message: up to `max` characters, no control characters but line breaks. */
export function checkGroupText(field: string, text: string, max: number): string {
  if (length(text) > max) throw AppError.invalidArgument(`${field} can have at most ${max} characters.`, `${field.toUpperCase()}_TOO_LONG`);
  if (CONTROL_EXCEPT_NEWLINES.test(text)) {
    throw AppError.invalidArgument(`${field} cannot contain control characters other than line breaks and tabs.`, `${field.toUpperCase()}_INVALID`);
  }
  return text;
}

export function checkJoinPolicy(policy: messageV1.GroupJoinPolicy | undefined): number {
  if (policy === undefined || policy === messageV1.GroupJoinPolicy.GROUP_JOIN_POLICY_UNSPECIFIED) return JOIN_POLICY_APPROVAL;
  if (policy === messageV1.GroupJoinPolicy.GROUP_JOIN_POLICY_APPROVAL) return JOIN_POLICY_APPROVAL;
  if (policy === messageV1.GroupJoinPolicy.GROUP_JOIN_POLICY_OPEN) return JOIN_POLICY_OPEN;
  throw AppError.invalidArgument('join_policy must be GROUP_JOIN_POLICY_APPROVAL or GROUP_JOIN_POLICY_OPEN.', 'JOIN_POLICY_INVALID');
}

/** Distinct lowercase user ids, without `except`, at most `max`. */
export function userIdsFrom(values: readonly string[], field: string, max: number, except?: string): string[] {
  const ids = [...new Set(values.map((value) => userIdFrom(value, `Every ${field} entry`)))].filter((id) => id !== except);
  if (ids.length > max) throw AppError.invalidArgument(`${field} can name at most ${max} users.`, `${field.toUpperCase()}_TOO_MANY`);
  return ids;
}

export function checkClientRequestId(value: string): string | null {
  if (value === '') return null;
  if (length(value) > MAX_CLIENT_REQUEST_ID_LENGTH || CONTROL_CHARS.test(value)) {
    throw AppError.invalidArgument(
      `client_request_id must be 1 to ${MAX_CLIENT_REQUEST_ID_LENGTH} characters without control characters (a UUID is a good choice).`,
      'CLIENT_REQUEST_ID_INVALID',
    );
  }
  return value;
}

export function checkMuteSeconds(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_MUTE_SECONDS) {
    throw AppError.invalidArgument(`duration_seconds must be 0 (unmute) to ${MAX_MUTE_SECONDS} (30 days).`, 'MUTE_DURATION_INVALID');
  }
  return seconds;
}
