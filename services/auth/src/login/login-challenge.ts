// The challenge that protects passwords in transit. GetLoginKey hands out the
// login public key and a single-use nonce bound to a device; Register and Login
// send RSA-OAEP(SHA-256) ciphertext of {"password", "nonce", "ts"}. Opening a
// secret burns its nonce first, so a captured ciphertext works at most once,
// and only from the device that asked for the nonce, and only near `ts`.
import { constants, privateDecrypt, randomBytes } from 'node:crypto';
import type { EphemeralStore } from '@im-mesh/platform';
import { checkDeviceId } from '../accounts/account-rules.js';
import type { KeyRing } from '../keys/key-ring.js';

/** Key of a live nonce in the EphemeralStore; its value is the device id. */
export const NONCE_KEY_PREFIX = 'login-nonce:';

/** 32 random bytes, base64url without padding. */
const NONCE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface LoginKeyOffer {
  kid: string;
  publicKeyPem: string;
  nonce: string;
  nonceExpiresAt: Date;
  serverTime: Date;
}

export interface EncryptedSecret {
  kid: string;
  ciphertext: Uint8Array;
}

/** Why a secret was refused; for logs and metrics only, never shown to the caller. */
export type SecretRejection =
  | 'missing'
  | 'unknown_kid'
  | 'undecryptable'
  | 'malformed'
  | 'nonce_unknown'
  | 'nonce_other_device'
  | 'stale_timestamp';

export type OpenedSecret = { ok: true; password: string } | { ok: false; rejection: SecretRejection };

export interface LoginChallengeOptions {
  keys: KeyRing;
  nonces: EphemeralStore;
  nonceTtlSeconds: number;
  /** Largest allowed |server time - ts|, in milliseconds. */
  loginWindowMs: number;
  /** Clock in Unix milliseconds; Date.now by default (tests move it). */
  now?: () => number;
}

export class LoginChallenge {
  private readonly now: () => number;

  constructor(private readonly options: LoginChallengeOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A fresh nonce for `deviceId`, with the key to encrypt under. INVALID_ARGUMENT for a bad device id. */
  async issue(deviceId: string): Promise<LoginKeyOffer> {
    checkDeviceId(deviceId);
    const nonce = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.options.nonces.put(NONCE_KEY_PREFIX + nonce, deviceId, this.options.nonceTtlSeconds);
    const { kid, publicKeyPem } = this.options.keys.loginKey;
    return {
      kid,
      publicKeyPem,
      nonce,
      nonceExpiresAt: new Date(now + this.options.nonceTtlSeconds * 1000),
      serverTime: new Date(now),
    };
  }

  /**
   * Decrypts `secret`, burns its nonce and checks that the nonce was issued to
   * `deviceId` and that `ts` is within the login window. The nonce is burnt even
   * when a later check fails, so a refused secret cannot be retried either.
   */
  async open(secret: EncryptedSecret | undefined, deviceId: string): Promise<OpenedSecret> {
    if (!secret || secret.ciphertext.length === 0) return { ok: false, rejection: 'missing' };
    // The current key, or one retired by a rotation less than the grace period
    // ago: a client that fetched the key just before the rotation still logs in.
    const loginKey = this.options.keys.loginKeyFor(secret.kid);
    if (!loginKey) return { ok: false, rejection: 'unknown_kid' };

    let plaintext: Buffer;
    try {
      plaintext = privateDecrypt(
        { key: loginKey.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        secret.ciphertext,
      );
    } catch {
      // Garbage, a different key or a different padding: all the same to the caller.
      return { ok: false, rejection: 'undecryptable' };
    }

    const payload = parsePayload(plaintext);
    if (!payload) return { ok: false, rejection: 'malformed' };

    const owner = await this.options.nonces.take(NONCE_KEY_PREFIX + payload.nonce);
    if (owner === undefined) return { ok: false, rejection: 'nonce_unknown' };
    if (owner !== deviceId) return { ok: false, rejection: 'nonce_other_device' };
    if (Math.abs(this.now() - payload.ts) > this.options.loginWindowMs) return { ok: false, rejection: 'stale_timestamp' };
    return { ok: true, password: payload.password };
  }
}

interface SecretPayload {
  password: string;
  nonce: string;
  ts: number;
}

function parsePayload(plaintext: Buffer): SecretPayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(plaintext.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { password, nonce, ts } = value as Record<string, unknown>;
  if (typeof password !== 'string' || typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce)) return undefined;
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return undefined;
  return { password, nonce, ts };
}
