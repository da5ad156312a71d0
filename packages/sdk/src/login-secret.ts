// The password envelope of Register and Login (im.auth.v1): RSA-OAEP with SHA-256
// over the UTF-8 JSON `{"password", "nonce", "ts"}`, under the PEM public key
// GetLoginKey returned. WebCrypto only (globalThis.crypto.subtle), so the same
// code runs in Node 20 and in browsers.

/** The plaintext the server expects inside EncryptedSecret.ciphertext. */
export interface LoginSecret {
  readonly password: string;
  /** The single-use nonce from GetLoginKey. */
  readonly nonce: string;
  /** Unix milliseconds, ideally corrected by the server clock from GetLoginKey. */
  readonly ts: number;
}

/** SHA-256 OAEP costs 2 * 32 + 2 bytes of the RSA block. */
const OAEP_SHA256_OVERHEAD = 66;

/**
 * Encrypts `secret` for the server. Rejects when the PEM is not an SPKI RSA key
 * or when the JSON is longer than the key can carry (190 bytes for RSA-2048).
 */
export async function encryptLoginSecret(publicKeyPem: string, secret: LoginSecret): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) {
    throw new Error('WebCrypto is not available here (browsers expose it only on https:// and localhost pages).');
  }
  const key = await subtle.importKey('spki', pemToDer(publicKeyPem), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, [
    'encrypt',
  ]);
  const plaintext = new TextEncoder().encode(
    JSON.stringify({ password: secret.password, nonce: secret.nonce, ts: secret.ts }),
  );
  const modulusBits = (key.algorithm as { modulusLength?: number }).modulusLength ?? 2048;
  const capacity = modulusBits / 8 - OAEP_SHA256_OVERHEAD;
  if (plaintext.byteLength > capacity) {
    throw new Error(`The password is too long to encrypt with the server key (${capacity} bytes of JSON at most).`);
  }
  return new Uint8Array(await subtle.encrypt({ name: 'RSA-OAEP' }, key, plaintext));
}

/** Decodes the base64 body of a `-----BEGIN PUBLIC KEY-----` block. */
function pemToDer(pem: string): Uint8Array {
  const match = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  if (match === null) {
    throw new Error('The login key is not a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) block.');
  }
  const binary = atob((match[1] ?? '').replace(/\s+/g, ''));
  const der = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) der[i] = binary.charCodeAt(i);
  return der;
}
