// Encryption of sensitive columns (phone numbers, emails) with AES-256-GCM.
//
// Each value is sealed under a named key ("kid") and bound to where it lives:
// the associated data is table, column and row id, so a ciphertext copied into
// another row or column fails to open instead of showing someone else's number.
// The sealed form carries its kid, so rows written under an old key still open
// after the current key changes; a re-encryption command moves them forward.
//
// Sealed layout (one bytea): 0x01 | kid length (1 byte) | kid (ASCII) |
// 12-byte random IV | ciphertext | 16-byte GCM tag.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const FORMAT_VERSION = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const FIELD_KEY_BYTES = 32;
const KID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Where a sealed value lives; the three parts become its associated data. */
export interface FieldLocation {
  table: string;
  column: string;
  /** The row's primary key as text. */
  rowId: string;
}

/** A sealed value did not open: wrong row or column, tampered, truncated, or under an unknown key. */
export class FieldDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FieldDecryptionError';
  }
}

export interface FieldKeys {
  /** Every key that may still open values, by kid. */
  keys: ReadonlyMap<string, Buffer>;
  /** The kid new values are sealed under. */
  currentKid: string;
}

/**
 * Parses "kid:base64,kid:base64" (each key 32 bytes) plus the current kid.
 * Throws an Error that names the problem but never echoes key material.
 */
export function parseFieldKeys(spec: string, currentKid: string): FieldKeys {
  const keys = new Map<string, Buffer>();
  for (const entry of spec.split(',').map((part) => part.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const kid = colon > 0 ? entry.slice(0, colon) : '';
    if (!KID_PATTERN.test(kid)) throw new Error('each entry must be "kid:base64key" with a kid of letters, digits, "_", "." or "-"');
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== FIELD_KEY_BYTES) throw new Error(`key "${kid}" must be ${FIELD_KEY_BYTES} bytes of base64`);
    if (keys.has(kid)) throw new Error(`key "${kid}" appears twice`);
    keys.set(kid, key);
  }
  if (keys.size === 0) throw new Error('no keys given');
  if (!keys.has(currentKid)) throw new Error(`the current kid "${currentKid}" is not among the keys`);
  return { keys, currentKid };
}

function associatedData(location: FieldLocation): Buffer {
  // NUL cannot appear in SQL identifiers or our row ids, so the parts cannot
  // be shifted into one another ("ab"+"c" vs "a"+"bc").
  return Buffer.from(`${location.table}\u0000${location.column}\u0000${location.rowId}`, 'utf8');
}

export class FieldCipher {
  constructor(private readonly fieldKeys: FieldKeys) {}

  get currentKid(): string {
    return this.fieldKeys.currentKid;
  }

  /** Seals `plaintext` under the current key, bound to `location`. */
  seal(plaintext: string, location: FieldLocation): Buffer {
    const kid = this.fieldKeys.currentKid;
    const key = this.fieldKeys.keys.get(kid)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(location));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const kidBytes = Buffer.from(kid, 'ascii');
    return Buffer.concat([Buffer.from([FORMAT_VERSION, kidBytes.length]), kidBytes, iv, body, cipher.getAuthTag()]);
  }

  /** The kid a sealed value names, without opening it; undefined when the layout is broken. */
  kidOf(sealed: Uint8Array): string | undefined {
    if (sealed.length < 2 || sealed[0] !== FORMAT_VERSION) return undefined;
    const kidLength = sealed[1]!;
    if (sealed.length < 2 + kidLength + IV_BYTES + TAG_BYTES) return undefined;
    return Buffer.from(sealed.subarray(2, 2 + kidLength)).toString('ascii');
  }

  /** Opens a value sealed for `location`. Throws FieldDecryptionError on any mismatch. */
  open(sealed: Uint8Array, location: FieldLocation): string {
    const kid = this.kidOf(sealed);
    if (kid === undefined) throw new FieldDecryptionError('the sealed value is truncated or not in a known format');
    const key = this.fieldKeys.keys.get(kid);
    if (!key) throw new FieldDecryptionError(`the sealed value names key "${kid}", which is not configured`);
    const bytes = Buffer.from(sealed);
    const ivStart = 2 + kid.length;
    const bodyStart = ivStart + IV_BYTES;
    const tagStart = bytes.length - TAG_BYTES;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(ivStart, bodyStart), { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(location));
      decipher.setAuthTag(bytes.subarray(tagStart));
      return Buffer.concat([decipher.update(bytes.subarray(bodyStart, tagStart)), decipher.final()]).toString('utf8');
    } catch {
      throw new FieldDecryptionError(
        `the sealed value does not open for ${location.table}.${location.column} of this row: it belongs elsewhere or was altered`,
      );
    }
  }

  /** True when `sealed` was sealed under a key other than the current one. */
  needsRotation(sealed: Uint8Array): boolean {
    return this.kidOf(sealed) !== this.fieldKeys.currentKid;
  }
}
