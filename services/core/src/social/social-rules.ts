// What profile fields, notes and search terms may hold, and the social
// settings (CORE_FRIEND_*). Every refusal is INVALID_ARGUMENT with a sentence
// the user can act on.
import { AppError, env, isUuid } from '@im-mesh/platform';

export const socialConfigShape = {
  /** How long a friend request can be accepted, in seconds (7 days). */
  CORE_FRIEND_REQUEST_TTL_SECONDS: env.int(7 * 24 * 3600, 60, 365 * 24 * 3600),
  /** Most friends one user may have. */
  CORE_FRIEND_LIMIT: env.int(5_000, 1, 100_000),
  /** Whether users who never chose may be found by their verified phone number. */
  CORE_PHONE_SEARCH_DEFAULT: env.bool(true),
};

export const MAX_NICKNAME_LENGTH = 64;
export const MAX_SIGNATURE_LENGTH = 200;
export const MAX_REQUEST_MESSAGE_LENGTH = 200;
export const MAX_REMARK_LENGTH = 64;
export const MAX_USERS_PER_LOOKUP = 200;
const MAX_USERNAME_QUERY_LENGTH = 64;

const CONTROL_CHARS = /\p{Cc}/u;
// Newlines are fine in a signature or a request note; other control characters only garble screens.
const CONTROL_BUT_NEWLINE = /[^\P{Cc}\n]/u;

function length(text: string): number {
  return [...text].length;
}

/** A user id from a request, lowercased; INVALID_ARGUMENT unless it is a UUID. */
export function userIdOf(value: string, field = 'user_id'): string {
  const id = value.trim().toLowerCase();
  if (!isUuid(id)) throw AppError.invalidArgument(`${field} must be a user id (a UUID).`, 'USER_ID_INVALID');
  return id;
}

export function checkNickname(value: string): string {
  const nickname = value.trim();
  if (length(nickname) === 0 || length(nickname) > MAX_NICKNAME_LENGTH || CONTROL_CHARS.test(nickname)) {
    throw AppError.invalidArgument(
      `nickname must be 1 to ${MAX_NICKNAME_LENGTH} characters, not only spaces, without control characters.`,
      'NICKNAME_INVALID',
    );
  }
  return nickname;
}

export function checkSignature(value: string): string {
  if (length(value) > MAX_SIGNATURE_LENGTH || CONTROL_BUT_NEWLINE.test(value)) {
    throw AppError.invalidArgument(`signature can have at most ${MAX_SIGNATURE_LENGTH} characters, without control characters other than newlines.`, 'SIGNATURE_INVALID');
  }
  return value;
}

export function checkRequestMessage(value: string): string {
  if (length(value) > MAX_REQUEST_MESSAGE_LENGTH || CONTROL_BUT_NEWLINE.test(value)) {
    throw AppError.invalidArgument(
      `A friend request's message can have at most ${MAX_REQUEST_MESSAGE_LENGTH} characters, without control characters other than newlines.`,
      'REQUEST_MESSAGE_INVALID',
    );
  }
  return value;
}

export function checkRemark(value: string): string {
  const remark = value.trim();
  if (length(remark) > MAX_REMARK_LENGTH || CONTROL_CHARS.test(remark)) {
    throw AppError.invalidArgument(`remark can have at most ${MAX_REMARK_LENGTH} characters, without control characters.`, 'REMARK_INVALID');
  }
  return remark;
}

const MAX_PHONE_QUERY_LENGTH = 32;

/** A phone number to search for; auth normalises it (and finds nobody for a malformed one). */
export function checkPhoneQuery(value: string): string {
  const phone = value.trim();
  if (phone.length === 0 || phone.length > MAX_PHONE_QUERY_LENGTH || CONTROL_CHARS.test(phone)) {
    throw AppError.invalidArgument(`phone_number must be 1 to ${MAX_PHONE_QUERY_LENGTH} characters, such as +4915112345678.`, 'PHONE_QUERY_INVALID');
  }
  return phone;
}

export function checkUsernameQuery(value: string): string {
  const username = value.trim();
  if (length(username) === 0 || length(username) > MAX_USERNAME_QUERY_LENGTH || CONTROL_CHARS.test(username)) {
    throw AppError.invalidArgument(`username must be 1 to ${MAX_USERNAME_QUERY_LENGTH} characters, without control characters.`, 'USERNAME_QUERY_INVALID');
  }
  return username;
}
