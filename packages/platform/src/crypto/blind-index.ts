// Blind index: an HMAC-SHA-256 of a normalised value, stored beside its
// ciphertext so an exact lookup ("which account has this phone number?") is an
// indexed equality query without decrypting every row. The key is separate
// from the encryption keys; without it the index says nothing about the value.
// Normalise before indexing (E.164 for phones, lower case for emails): the
// index only finds byte-identical input.
import { createHmac, hkdfSync } from 'node:crypto';

export const BLIND_INDEX_KEY_BYTES = 32;

export class BlindIndex {
  private readonly key: Buffer;

  /** `key`: 32 random bytes, shared by every instance that looks values up. */
  constructor(key: Uint8Array) {
    if (key.length !== BLIND_INDEX_KEY_BYTES) throw new Error(`a blind index key must be ${BLIND_INDEX_KEY_BYTES} bytes`);
    this.key = Buffer.from(key);
  }

  /** Parses base64 text; throws without echoing it. */
  static fromBase64(text: string): BlindIndex {
    return new BlindIndex(Buffer.from(text, 'base64'));
  }

  /**
   * 32 bytes identifying `value` within `domain` ("phone", "email"): the same
   * number in two domains gets two unrelated indexes.
   */
  of(domain: string, value: string): Buffer {
    return createHmac('sha256', this.key).update(`${domain}\u0000${value}`, 'utf8').digest();
  }

  /**
   * A separate 32-byte key for another purpose (such as hashing SMS codes),
   * derived with HKDF so one configured secret serves both without reuse.
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `im-mesh ${purpose}`, 32));
  }
}
