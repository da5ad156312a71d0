// What a valid username, password, display name and device id look like. Each
// check throws INVALID_ARGUMENT naming the field, so a client can point at it.
import { AppError } from '@im-mesh/platform';

const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_CHARS = 128;
export const DISPLAY_NAME_MAX_CHARS = 64;
export const DEVICE_ID_MAX_CHARS = 128;
export const DEVICE_PLATFORM_MAX_CHARS = 32;

/** Length in Unicode code points, so an emoji counts once, as a person would count it. */
const charCount = (value: string) => [...value].length;

// Control characters would let a name spoof line breaks in clients and logs.
const CONTROL_CHARS = /\p{Cc}/u;

/** True when `username` could have been registered (so it is worth looking up). */
export function isValidUsername(username: string): boolean {
  return USERNAME_PATTERN.test(username);
}

export function checkUsername(username: string): string {
  if (!isValidUsername(username)) {
    throw AppError.invalidArgument(
      "username must be 3 to 32 characters, using only letters, digits, '_', '.' and '-'.",
      'USERNAME_INVALID',
    );
  }
  return username;
}

/** The display name to store: trimmed, and the username when left empty. */
export function checkDisplayName(displayName: string, username: string): string {
  const trimmed = displayName.trim();
  if (trimmed === '') return username;
  if (charCount(trimmed) > DISPLAY_NAME_MAX_CHARS || CONTROL_CHARS.test(trimmed)) {
    throw AppError.invalidArgument(
      `display_name must be at most ${DISPLAY_NAME_MAX_CHARS} characters, without control characters.`,
      'DISPLAY_NAME_INVALID',
    );
  }
  return trimmed;
}

export function checkDeviceId(deviceId: string): string {
  if (deviceId.length === 0 || charCount(deviceId) > DEVICE_ID_MAX_CHARS || CONTROL_CHARS.test(deviceId)) {
    throw AppError.invalidArgument(
      `device_id must be 1 to ${DEVICE_ID_MAX_CHARS} characters, without control characters: a stable id of this installation.`,
      'DEVICE_ID_INVALID',
    );
  }
  return deviceId;
}

/** Free text such as "web" or "ios"; trimmed, empty allowed. */
export function checkDevicePlatform(platform: string): string {
  const trimmed = platform.trim();
  if (charCount(trimmed) > DEVICE_PLATFORM_MAX_CHARS || CONTROL_CHARS.test(trimmed)) {
    throw AppError.invalidArgument(
      `device_platform must be at most ${DEVICE_PLATFORM_MAX_CHARS} characters, such as "web", "ios" or "android".`,
      'DEVICE_PLATFORM_INVALID',
    );
  }
  return trimmed;
}
