// What each kind of upload may be: its largest size and the content types it
// accepts, from configuration (CORE_FILE_*), plus the checks CreateUpload runs
// on a request before anything is stored. Every refusal is INVALID_ARGUMENT
// with a sentence the uploader can act on.
import { AppError, env } from '@im-mesh/platform';
import { fileV1 } from '@im-mesh/contracts';

const MIB = 1024 * 1024;

export const fileConfigShape = {
  /** Largest image upload, in bytes (20 MiB by default). */
  CORE_FILE_IMAGE_MAX_BYTES: env.int(20 * MIB, 1),
  /** Largest voice clip, in bytes (10 MiB). */
  CORE_FILE_VOICE_MAX_BYTES: env.int(10 * MIB, 1),
  /** Largest video, in bytes (100 MiB). */
  CORE_FILE_VIDEO_MAX_BYTES: env.int(100 * MIB, 1),
  /** Largest other file, in bytes (100 MiB). */
  CORE_FILE_FILE_MAX_BYTES: env.int(100 * MIB, 1),
  /** Largest profile picture, in bytes (5 MiB). */
  CORE_FILE_AVATAR_MAX_BYTES: env.int(5 * MIB, 1),
  /** Content types accepted for images and avatars (comma-separated). */
  CORE_FILE_IMAGE_TYPES: env.list(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
  /** Content types accepted for voice clips. */
  CORE_FILE_VOICE_TYPES: env.list(['audio/aac', 'audio/mp4', 'audio/mpeg', 'audio/ogg', 'audio/wav', 'audio/webm', 'audio/amr']),
  /** Content types accepted for videos. */
  CORE_FILE_VIDEO_TYPES: env.list(['video/mp4', 'video/webm', 'video/quicktime']),
  /** How long an upload URL works, in seconds (15 minutes). */
  CORE_FILE_UPLOAD_URL_SECONDS: env.int(900, 10, 7 * 24 * 3600),
  /** How long a download URL works, in seconds (5 minutes). */
  CORE_FILE_DOWNLOAD_URL_SECONDS: env.int(300, 10, 7 * 24 * 3600),
  /** Longest side of image thumbnails, in pixels. */
  CORE_FILE_THUMBNAIL_PIXELS: env.int(320, 16, 2000),
  /** Uploads one user may have pending (not completed, not expired) at once. */
  CORE_FILE_MAX_PENDING_UPLOADS: env.int(50, 1, 10_000),
  /** How often abandoned uploads (never completed, an hour past their URL's expiry) are deleted, in ms. */
  CORE_FILE_SWEEP_INTERVAL_MS: env.millis(10 * 60_000, 100),
};

export interface FileConfig {
  CORE_FILE_IMAGE_MAX_BYTES: number;
  CORE_FILE_VOICE_MAX_BYTES: number;
  CORE_FILE_VIDEO_MAX_BYTES: number;
  CORE_FILE_FILE_MAX_BYTES: number;
  CORE_FILE_AVATAR_MAX_BYTES: number;
  CORE_FILE_IMAGE_TYPES: string[];
  CORE_FILE_VOICE_TYPES: string[];
  CORE_FILE_VIDEO_TYPES: string[];
  CORE_FILE_UPLOAD_URL_SECONDS: number;
  CORE_FILE_DOWNLOAD_URL_SECONDS: number;
  CORE_FILE_THUMBNAIL_PIXELS: number;
  CORE_FILE_MAX_PENDING_UPLOADS: number;
  CORE_FILE_SWEEP_INTERVAL_MS: number;
}

export interface KindRule {
  /** For messages: "an image", "a voice clip". */
  noun: string;
  maxBytes: number;
  /** Lowercase types accepted; undefined means any well-formed type. */
  types?: ReadonlySet<string>;
  /** Images get dimensions and a thumbnail. */
  image: boolean;
}

export type KnownFileKind = Exclude<fileV1.FileKind, fileV1.FileKind.FILE_KIND_UNSPECIFIED | fileV1.FileKind.UNRECOGNIZED>;

export function kindRules(config: FileConfig): ReadonlyMap<KnownFileKind, KindRule> {
  const types = (list: string[]) => new Set(list.map((t) => t.toLowerCase()));
  const images = types(config.CORE_FILE_IMAGE_TYPES);
  return new Map<KnownFileKind, KindRule>([
    [fileV1.FileKind.FILE_KIND_IMAGE, { noun: 'an image', maxBytes: config.CORE_FILE_IMAGE_MAX_BYTES, types: images, image: true }],
    [fileV1.FileKind.FILE_KIND_VOICE, { noun: 'a voice clip', maxBytes: config.CORE_FILE_VOICE_MAX_BYTES, types: types(config.CORE_FILE_VOICE_TYPES), image: false }],
    [fileV1.FileKind.FILE_KIND_VIDEO, { noun: 'a video', maxBytes: config.CORE_FILE_VIDEO_MAX_BYTES, types: types(config.CORE_FILE_VIDEO_TYPES), image: false }],
    [fileV1.FileKind.FILE_KIND_FILE, { noun: 'a file', maxBytes: config.CORE_FILE_FILE_MAX_BYTES, image: false }],
    [fileV1.FileKind.FILE_KIND_AVATAR, { noun: 'a profile picture', maxBytes: config.CORE_FILE_AVATAR_MAX_BYTES, types: images, image: true }],
  ]);
}

const MAX_NAME_LENGTH = 255;
// type/subtype, the characters RFC 6838 allows in names; parameters are not accepted.
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
const CONTROL_CHARS = /\p{Cc}/u;

export interface CheckedUpload {
  kind: KnownFileKind;
  rule: KindRule;
  sizeBytes: number;
  contentType: string;
  name: string;
}

/** Checks a CreateUpload request against the kind's limits. */
export function checkUploadRequest(rules: ReadonlyMap<KnownFileKind, KindRule>, request: fileV1.CreateUploadRequest): CheckedUpload {
  const rule = rules.get(request.kind as KnownFileKind);
  if (!rule) throw AppError.invalidArgument('kind must be image, voice, video, file or avatar.', 'FILE_KIND_INVALID');
  const kind = request.kind as KnownFileKind;
  const sizeBytes = request.sizeBytes;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1) {
    throw AppError.invalidArgument('size_bytes must be the exact size of the file, at least 1 byte.', 'FILE_SIZE_INVALID');
  }
  if (sizeBytes > rule.maxBytes) {
    throw AppError.invalidArgument(`${capitalized(rule.noun)} can be at most ${rule.maxBytes} bytes; this one is ${sizeBytes}.`, 'FILE_TOO_LARGE');
  }
  const contentType = request.contentType.trim().toLowerCase();
  if (!MEDIA_TYPE.test(contentType)) {
    throw AppError.invalidArgument('content_type must be a media type such as image/png, without parameters.', 'FILE_CONTENT_TYPE_INVALID');
  }
  if (rule.types && !rule.types.has(contentType)) {
    throw AppError.invalidArgument(
      `${capitalized(rule.noun)} must be one of ${[...rule.types].join(', ')}; ${contentType} is not accepted.`,
      'FILE_TYPE_NOT_ALLOWED',
    );
  }
  return { kind, rule, sizeBytes, contentType, name: checkFileName(request.name) };
}

export function checkFileName(value: string): string {
  const name = value.trim();
  const length = [...name].length;
  if (length === 0 || length > MAX_NAME_LENGTH || CONTROL_CHARS.test(name) || /[/\\]/.test(name)) {
    throw AppError.invalidArgument(
      `name must be 1 to ${MAX_NAME_LENGTH} characters, without control characters, '/' or '\\'.`,
      'FILE_NAME_INVALID',
    );
  }
  return name;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
