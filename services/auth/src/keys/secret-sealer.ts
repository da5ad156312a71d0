// SecretSealer: AES-256-GCM encryption of auth's own secrets at rest (RSA private
// keys, the successor token pair of a rotated refresh token) under key-encryption
// keys (KEKs) from configuration. Every sealed value names the KEK that sealed it
// (the first 8 bytes of the KEK's SHA-256), so KEKs rotate: the first configured
// KEK seals, every configured KEK unseals. Callers pass associated data that binds
// the value to where it is stored (the key's kid, the token's hash), so a sealed
// value copied into another row fails to open.
//
// Layout: version (1 byte, 1) | KEK id (8) | IV (12) | GCM tag (16) | ciphertext.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 1;
const KEK_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEK_ID_BYTES + IV_BYTES + TAG_BYTES;
/** AES-256 takes exactly 32 key bytes. */
export const KEK_BYTES = 32;

/** A sealed value that no configured KEK opens, or that was tampered with. */
export class UnsealError extends Error {
  override name = 'UnsealError';
}

export class SecretSealer {
  private readonly current: { id: Buffer; key: Buffer };
  private readonly byId = new Map<string, Buffer>();

  /** `keys`: the KEKs, 32 bytes each, the one that seals first. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('SecretSealer needs at least one key-encryption key');
    for (const key of keys) {
      if (key.length !== KEK_BYTES) throw new Error(`a key-encryption key must be ${KEK_BYTES} bytes, got ${key.length}`);
      this.byId.set(kekIdOf(key).toString('hex'), key);
    }
    this.current = { id: kekIdOf(keys[0]!), key: keys[0]! };
  }

  /** Hex id of the KEK that seals new values; safe to log. */
  get currentKekId(): string {
    return this.current.id.toString('hex');
  }

  seal(plaintext: Buffer, associatedData: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), this.current.id, iv, cipher.getAuthTag(), ciphertext]);
  }

  /** Opens a value sealed with any configured KEK; throws UnsealError otherwise. */
  unseal(sealed: Buffer, associatedData: string): Buffer {
    if (sealed.length < HEADER_BYTES || sealed[0] !== VERSION) throw new UnsealError('not a sealed value of a known version');
    const kekId = sealed.subarray(1, 1 + KEK_ID_BYTES).toString('hex');
    const key = this.byId.get(kekId);
    if (!key) throw new UnsealError(`sealed with key-encryption key ${kekId}, which is not configured`);
    const iv = sealed.subarray(1 + KEK_ID_BYTES, 1 + KEK_ID_BYTES + IV_BYTES);
    const tag = sealed.subarray(1 + KEK_ID_BYTES + IV_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      throw new UnsealError('the sealed value does not authenticate (tampered, or bound to another row)');
    }
  }

  /** True when `sealed` was sealed by a KEK other than the current one (it should be re-sealed). */
  isStale(sealed: Buffer): boolean {
    return !sealed.subarray(1, 1 + KEK_ID_BYTES).equals(this.current.id);
  }
}

function kekIdOf(key: Buffer): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, KEK_ID_BYTES);
}
