// Signed, expiring blob URLs of the local-disk store:
//   <publicBaseUrl>/blobs/<key>?op=get|put&exp=<unix s>[&len=<bytes>&type=<mime>]&sig=<base64url>
// `sig` is an HMAC-SHA256, under a server-side secret, over op, key, exp, len and
// type joined by newlines (none of them may contain one), so changing any part of
// the URL, or using it for another method, makes it invalid. Also the key rules
// every blob adapter enforces.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, ErrorCode } from '../../errors/app-error.js';

export type BlobUrlOperation = 'get' | 'put';

/** What a blob URL grants. `len` and `type` are signed for uploads only (empty for downloads). */
export interface BlobUrlGrant {
  op: BlobUrlOperation;
  key: string;
  /** Expiry in Unix seconds; the URL is refused from that second on. */
  exp: number;
  len?: number;
  type?: string;
}

const KEY_PATTERN = /^[A-Za-z0-9._/-]+$/;
const MAX_KEY_LENGTH = 1024;
// type/subtype with optional parameters; no control characters, so no newline.
const CONTENT_TYPE_PATTERN = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[\x20-\x7e]*)?$/;
const MIN_SECRET_BYTES = 16;

/** Why `key` is not a valid blob key, or undefined when it is. */
export function blobKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (key.length > MAX_KEY_LENGTH) return `it is longer than ${MAX_KEY_LENGTH} characters`;
  if (!KEY_PATTERN.test(key)) return 'it may only contain letters, digits, ".", "_", "/" and "-"';
  if (key.startsWith('/')) return 'it must be a relative path (no leading "/")';
  if (key.includes('..')) return 'it must not contain ".."';
  if (key.endsWith('/') || key.includes('//')) return 'it must not contain empty path segments';
  return undefined;
}

/** Throws INVALID_ARGUMENT when `key` breaks the blob key rules. */
export function assertBlobKey(key: string): void {
  const problem = blobKeyProblem(key);
  if (problem) throw AppError.invalidArgument(`The file key ${JSON.stringify(key.slice(0, 80))} is not valid: ${problem}.`, 'BLOB_KEY_INVALID');
}

/** Throws INVALID_ARGUMENT unless `contentType` looks like "type/subtype[; params]". */
export function assertContentType(contentType: string): void {
  if (contentType.length > 255 || !CONTENT_TYPE_PATTERN.test(contentType)) {
    throw AppError.invalidArgument('The content type must look like "image/png" (type/subtype).', 'BLOB_CONTENT_TYPE_INVALID');
  }
}

/** Refuses a write every adapter must refuse: bad key or type, a size that is not a byte count or over `maxBytes`. */
export function assertWritableBlob(key: string, contentType: string, size: number, maxBytes: number): void {
  assertBlobKey(key);
  assertContentType(contentType);
  if (!Number.isSafeInteger(size) || size < 0) throw AppError.invalidArgument('The file size must be a whole number of bytes.');
  if (size > maxBytes) {
    throw new AppError(ErrorCode.InvalidArgument, `The file is larger than the ${maxBytes} bytes allowed.`, { reason: 'BLOB_TOO_LARGE' });
  }
}

export function secretBytes(secret: string | Uint8Array): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_SECRET_BYTES) throw new Error(`the blob URL signing secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return bytes;
}

/** The URL's fields exactly as they appear in it; absent ones are empty strings. */
export interface SignedBlobFields {
  op: string;
  key: string;
  exp: string;
  len: string;
  type: string;
}

function fieldsOf(grant: BlobUrlGrant): SignedBlobFields {
  return {
    op: grant.op,
    key: grant.key,
    exp: String(grant.exp),
    len: grant.len === undefined ? '' : String(grant.len),
    type: grant.type ?? '',
  };
}

// Signing the raw strings (not parsed numbers) means "exp=017" is not "exp=17".
function mac(secret: Buffer, fields: SignedBlobFields): Buffer {
  const text = [fields.op, fields.key, fields.exp, fields.len, fields.type].join('\n');
  return createHmac('sha256', secret).update(text).digest();
}

/** The full signed URL for `grant` under `publicBaseUrl` (trailing slashes ignored). */
export function signBlobUrl(publicBaseUrl: string, secret: Buffer, grant: BlobUrlGrant): string {
  const fields = fieldsOf(grant);
  const query = new URLSearchParams({ op: fields.op, exp: fields.exp });
  if (grant.len !== undefined) query.set('len', fields.len);
  if (grant.type !== undefined) query.set('type', fields.type);
  query.set('sig', mac(secret, fields).toString('base64url'));
  return `${publicBaseUrl.replace(/\/+$/, '')}/blobs/${grant.key}?${query.toString()}`;
}

/** True when `sig` (base64url) signs exactly `fields`; compared in constant time. */
export function verifyBlobUrlSignature(secret: Buffer, fields: SignedBlobFields, sig: string): boolean {
  // Compare the text, not decoded bytes: the last base64url character has two
  // unused bits, and a URL differing there must be refused too.
  const expected = Buffer.from(mac(secret, fields).toString('base64url'));
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
