// What each kind of message content must satisfy before anything is stored.
// Every rule fails with INVALID_ARGUMENT and a sentence the sender can act on.
// Kinds the server writes itself (system notices, recall/edit/reaction/pin
// events, group and social events) are refused here: clients never send them.
// Reply and forward are only checked for shape here; the messages they name are
// resolved against the database by MessageSender (see quoted-messages.ts).
import { AppError, isUuid } from '@im-mesh/platform';
import type { messageV1 } from '@im-mesh/contracts';
import { userIdFrom } from './message-rules.js';

export const MAX_TEXT_LENGTH = 10_000;
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;
export const MAX_VOICE_BYTES = 20 * 1024 * 1024;
export const MAX_MEDIA_BYTES = 2 * 1024 * 1024 * 1024;
export const MAX_PIXELS_PER_SIDE = 20_000;
export const MAX_THUMBNAIL_PIXELS_PER_SIDE = 2_000;
export const MAX_VOICE_DURATION_MS = 10 * 60 * 1000;
export const MAX_VIDEO_DURATION_MS = 6 * 60 * 60 * 1000;
export const MAX_FILE_NAME_LENGTH = 255;
export const MAX_LOCATION_TITLE_LENGTH = 200;
export const MAX_LOCATION_ADDRESS_LENGTH = 500;
export const MAX_CUSTOM_JSON_BYTES = 16_384;
export const MAX_CUSTOM_FALLBACK_LENGTH = 200;

export const IMAGE_MIME_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/avif']);
export const VIDEO_MIME_TYPES: ReadonlySet<string> = new Set(['video/mp4', 'video/webm', 'video/quicktime']);

const CONTROL_CHARS = /\p{Cc}/u;
/** RFC 6838 type/subtype, lowercase after normalising. */
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
const CUSTOM_TYPE = /^[A-Za-z0-9._\-/:]{1,64}$/;

/** Content kinds clients may send (MessageContent oneof cases). */
export type SendableCase = 'text' | 'image' | 'voice' | 'video' | 'file' | 'location' | 'custom' | 'reply' | 'forward';

export interface CheckedContent {
  content: messageV1.MessageContent;
  /** Distinct lowercase user ids mentioned; each must be a participant. */
  mentionUserIds: string[];
}

function invalid(message: string, reason: string): AppError {
  return AppError.invalidArgument(message, reason);
}

/** Code points, as people count characters. */
function characters(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

/** The TextContent rules, shared by text, reply and edits. */
export function checkText(text: string, field = 'A text message'): string {
  const length = characters(text);
  if (length === 0 || text.trim().length === 0) throw invalid(`${field} cannot be empty or only whitespace.`, 'TEXT_EMPTY');
  if (length > MAX_TEXT_LENGTH) throw invalid(`${field} can have at most ${MAX_TEXT_LENGTH} characters.`, 'TEXT_TOO_LONG');
  // NUL means nothing in a chat message and breaks the search text column.
  if (text.includes('\u0000')) throw invalid('text must not contain the NUL character (U+0000).', 'TEXT_INVALID');
  return text;
}

/** Optional display text (titles, addresses): at most `max` characters, no control characters. */
function checkLabel(value: string, field: string, max: number): string {
  if (characters(value) > max) throw invalid(`${field} can have at most ${max} characters.`, `${field.toUpperCase()}_TOO_LONG`);
  if (CONTROL_CHARS.test(value)) throw invalid(`${field} must not contain control characters.`, `${field.toUpperCase()}_INVALID`);
  return value;
}

export function checkFileId(value: string, field = 'file_id'): string {
  const id = value.trim().toLowerCase();
  if (!isUuid(id)) throw invalid(`${field} must be the id CompleteUpload returned (a UUID).`, 'FILE_ID_INVALID');
  return id;
}

function checkSize(value: number, max: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw invalid(`size_bytes of ${what} must be 1 to ${max} bytes.`, 'SIZE_INVALID');
  }
  return value;
}

function checkPixels(width: number, height: number, max: number, what: string): void {
  if (width < 1 || height < 1 || width > max || height > max) {
    throw invalid(`width and height of ${what} must each be 1 to ${max} pixels.`, 'DIMENSIONS_INVALID');
  }
}

function checkDuration(value: number, max: number, what: string): number {
  if (value < 1 || value > max) throw invalid(`duration_ms of ${what} must be 1 to ${max} milliseconds.`, 'DURATION_INVALID');
  return value;
}

function checkMediaType(value: string, what: string): string {
  const type = value.trim().toLowerCase();
  if (!MEDIA_TYPE.test(type)) throw invalid(`mime_type of ${what} must be a media type such as application/pdf.`, 'MIME_TYPE_INVALID');
  return type;
}

function checkThumbnail(thumbnail: messageV1.Thumbnail | undefined): messageV1.Thumbnail | undefined {
  if (!thumbnail) return undefined;
  const fileId = checkFileId(thumbnail.fileId, 'thumbnail.file_id');
  checkPixels(thumbnail.width, thumbnail.height, MAX_THUMBNAIL_PIXELS_PER_SIDE, 'a thumbnail');
  return { fileId, width: thumbnail.width, height: thumbnail.height };
}

function mentionsOf(ids: readonly string[]): string[] {
  return [...new Set(ids.map((id) => userIdFrom(id, 'Every mention_user_ids entry')))];
}

/**
 * Checks content a client sends and returns it normalised (ids lowercased,
 * mentions deduplicated, server-filled fields of reply and forward cleared).
 */
export function checkContent(content: messageV1.MessageContent | undefined): CheckedContent {
  const body = content?.body;
  if (!body) {
    throw invalid(
      'content is required: text, image, voice, video, file, location, custom, reply or forward.',
      'CONTENT_MISSING',
    );
  }
  const plain = (value: messageV1.MessageContent['body']): CheckedContent => ({ content: { body: value }, mentionUserIds: [] });
  switch (body.$case) {
    case 'text': {
      const text = checkText(body.value.text);
      const mentionUserIds = mentionsOf(body.value.mentionUserIds);
      return { content: { body: { $case: 'text', value: { text, mentionUserIds } } }, mentionUserIds };
    }
    case 'image': {
      const v = body.value;
      const fileId = checkFileId(v.fileId);
      const sizeBytes = checkSize(v.sizeBytes, MAX_IMAGE_BYTES, 'an image');
      const mimeType = v.mimeType.trim().toLowerCase();
      if (!IMAGE_MIME_TYPES.has(mimeType)) {
        throw invalid(`mime_type of an image must be one of ${[...IMAGE_MIME_TYPES].join(', ')}.`, 'MIME_TYPE_INVALID');
      }
      checkPixels(v.width, v.height, MAX_PIXELS_PER_SIDE, 'an image');
      const thumbnail = checkThumbnail(v.thumbnail);
      return plain({ $case: 'image', value: { fileId, sizeBytes, mimeType, width: v.width, height: v.height, thumbnail } });
    }
    case 'voice': {
      const v = body.value;
      const fileId = checkFileId(v.fileId);
      const sizeBytes = checkSize(v.sizeBytes, MAX_VOICE_BYTES, 'a voice message');
      const durationMs = checkDuration(v.durationMs, MAX_VOICE_DURATION_MS, 'a voice message');
      const mimeType = checkMediaType(v.mimeType, 'a voice message');
      if (!mimeType.startsWith('audio/')) throw invalid('mime_type of a voice message must be an audio/* type.', 'MIME_TYPE_INVALID');
      return plain({ $case: 'voice', value: { fileId, sizeBytes, durationMs, mimeType } });
    }
    case 'video': {
      const v = body.value;
      const fileId = checkFileId(v.fileId);
      const sizeBytes = checkSize(v.sizeBytes, MAX_MEDIA_BYTES, 'a video');
      const mimeType = v.mimeType.trim().toLowerCase();
      if (!VIDEO_MIME_TYPES.has(mimeType)) {
        throw invalid(`mime_type of a video must be one of ${[...VIDEO_MIME_TYPES].join(', ')}.`, 'MIME_TYPE_INVALID');
      }
      checkPixels(v.width, v.height, MAX_PIXELS_PER_SIDE, 'a video');
      const durationMs = checkDuration(v.durationMs, MAX_VIDEO_DURATION_MS, 'a video');
      const thumbnail = checkThumbnail(v.thumbnail);
      return plain({ $case: 'video', value: { fileId, sizeBytes, mimeType, width: v.width, height: v.height, durationMs, thumbnail } });
    }
    case 'file': {
      const v = body.value;
      const fileId = checkFileId(v.fileId);
      const name = v.name.trim();
      if (characters(name) === 0 || characters(name) > MAX_FILE_NAME_LENGTH || CONTROL_CHARS.test(name) || /[/\\]/.test(name)) {
        throw invalid(
          `name of a file must be 1 to ${MAX_FILE_NAME_LENGTH} characters, without control characters, '/' or '\\'.`,
          'FILE_NAME_INVALID',
        );
      }
      const sizeBytes = checkSize(v.sizeBytes, MAX_MEDIA_BYTES, 'a file');
      const mimeType = v.mimeType.trim() === '' ? 'application/octet-stream' : checkMediaType(v.mimeType, 'a file');
      return plain({ $case: 'file', value: { fileId, name, sizeBytes, mimeType } });
    }
    case 'location': {
      const v = body.value;
      if (!Number.isFinite(v.latitude) || v.latitude < -90 || v.latitude > 90) {
        throw invalid('latitude must be -90 to 90 degrees.', 'LATITUDE_INVALID');
      }
      if (!Number.isFinite(v.longitude) || v.longitude < -180 || v.longitude > 180) {
        throw invalid('longitude must be -180 to 180 degrees.', 'LONGITUDE_INVALID');
      }
      const title = checkLabel(v.title, 'title', MAX_LOCATION_TITLE_LENGTH);
      const address = checkLabel(v.address, 'address', MAX_LOCATION_ADDRESS_LENGTH);
      return plain({ $case: 'location', value: { latitude: v.latitude, longitude: v.longitude, title, address } });
    }
    case 'custom': {
      const v = body.value;
      if (!CUSTOM_TYPE.test(v.type)) {
        throw invalid('type of a custom message must be 1 to 64 letters, digits or ._-/: characters.', 'CUSTOM_TYPE_INVALID');
      }
      if (Buffer.byteLength(v.json, 'utf8') > MAX_CUSTOM_JSON_BYTES) {
        throw invalid(`json of a custom message can be at most ${MAX_CUSTOM_JSON_BYTES} bytes.`, 'CUSTOM_JSON_TOO_LARGE');
      }
      try {
        JSON.parse(v.json);
      } catch {
        throw invalid('json of a custom message must be valid JSON.', 'CUSTOM_JSON_INVALID');
      }
      if (v.json.includes('\u0000')) throw invalid('json must not contain the NUL character.', 'CUSTOM_JSON_INVALID');
      const fallbackText = checkLabel(v.fallbackText, 'fallback_text', MAX_CUSTOM_FALLBACK_LENGTH);
      return plain({ $case: 'custom', value: { type: v.type, json: v.json, fallbackText } });
    }
    case 'reply': {
      const v = body.value;
      const quotedMessageId = messageIdFrom(v.quotedMessageId, 'quoted_message_id');
      const text = checkText(v.text, 'A reply');
      const mentionUserIds = mentionsOf(v.mentionUserIds);
      return {
        content: { body: { $case: 'reply', value: { quotedMessageId, text, mentionUserIds, quotedSenderId: '', quotedSeq: 0 } } },
        mentionUserIds,
      };
    }
    case 'forward': {
      const sourceMessageId = messageIdFrom(body.value.sourceMessageId, 'source_message_id');
      return plain({ $case: 'forward', value: { sourceMessageId, content: undefined, originalSenderId: '', originalSentAt: undefined } });
    }
    default:
      throw invalid(
        `${body.$case} content is written by the server; clients send text, image, voice, video, file, location, custom, reply or forward.`,
        'CONTENT_KIND_SERVER_ONLY',
      );
  }
}

/** A message id from a request, lowercased; INVALID_ARGUMENT unless it is a UUID. */
export function messageIdFrom(value: string, field = 'message_id'): string {
  const id = value.trim().toLowerCase();
  if (!isUuid(id)) throw invalid(`${field} must be a message id (a UUID).`, 'MESSAGE_ID_INVALID');
  return id;
}
