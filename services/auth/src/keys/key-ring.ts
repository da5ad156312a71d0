// The RSA keys auth works with: one to decrypt login secrets (RSA-OAEP SHA-256)
// and one to sign access tokens (RS256). Each is generated once, on the first
// start against an empty database, and read back on every later start, so kids
// survive restarts. Separate keys keep the two uses from weakening each other.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ACCESS_TOKEN_ALGORITHM, type JsonWebKeySet, type Logger } from '@im-mesh/platform';
import type { KeyPurpose, KeyStore, StoredKey } from '../storage/key-store.js';

/** RSA modulus size of newly generated keys, in bits. */
const MODULUS_BITS = 3072;

const generateRsaKeyPair = promisify(generateKeyPair);

export interface LoginKey {
  kid: string;
  /** SubjectPublicKeyInfo PEM, handed to clients by GetLoginKey. */
  publicKeyPem: string;
  privateKey: KeyObject;
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

export interface KeyRingOptions {
  /** Retired signing keys stay in the JWKS this long, so tokens they signed still verify. */
  accessTokenTtlSeconds: number;
  logger: Logger;
}

export class KeyRing {
  private constructor(
    readonly loginKey: LoginKey,
    readonly signingKey: SigningKey,
    /** The JSON Web Key Set of every signing key that may verify a live token. */
    readonly jwks: JsonWebKeySet,
  ) {}

  /** Reads the current keys, generating and storing any that do not exist yet. */
  static async load(store: KeyStore, options: KeyRingOptions): Promise<KeyRing> {
    const login = await currentKey(store, 'login', options.logger);
    const signing = await currentKey(store, 'signing', options.logger);
    const retiredAfter = new Date(Date.now() - options.accessTokenTtlSeconds * 1000);
    const verification = await store.findVerificationKeys(retiredAfter);
    return new KeyRing(
      { kid: login.kid, publicKeyPem: login.publicKeyPem, privateKey: createPrivateKey(login.privateKeyPem) },
      { kid: signing.kid, privateKey: createPrivateKey(signing.privateKeyPem) },
      { keys: verification.map(toJwk) },
    );
  }

  /** The JWKS as served by GetJwks and /.well-known/jwks.json. */
  jwksJson(): string {
    return JSON.stringify(this.jwks);
  }
}

async function currentKey(store: KeyStore, purpose: KeyPurpose, logger: Logger): Promise<StoredKey> {
  const existing = await store.findCurrent(purpose);
  if (existing) return existing;
  const { publicKey, privateKey } = await generateRsaKeyPair('rsa', {
    modulusLength: MODULUS_BITS,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const kid = thumbprintOf(publicKey);
  await store.insertUnlessCurrentExists({ kid, purpose, privateKeyPem: privateKey, publicKeyPem: publicKey });
  // Another instance starting at the same moment may have stored its key first;
  // whichever is current now is the one everybody uses.
  const current = await store.findCurrent(purpose);
  if (!current) throw new Error(`the ${purpose} key vanished right after it was stored`);
  if (current.kid === kid) logger.info({ kid, purpose, bits: MODULUS_BITS }, 'generated a new RSA key');
  return current;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): a kid derived from the key itself. */
function thumbprintOf(publicKeyPem: string): string {
  const { e, kty, n } = createPublicKey(publicKeyPem).export({ format: 'jwk' });
  return createHash('sha256').update(JSON.stringify({ e, kty, n })).digest('base64url');
}

function toJwk(key: StoredKey): JsonWebKeySet['keys'][number] {
  const { kty, n, e } = createPublicKey(key.publicKeyPem).export({ format: 'jwk' });
  return { kty, n, e, kid: key.kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
}
