// The RSA keys auth works with: one to decrypt login secrets (RSA-OAEP SHA-256)
// and one to sign access and service tokens (RS256). Separate keys keep the two
// uses from weakening each other. Each is generated once, on the first start
// against an empty database, stored sealed under the key-encryption key, and read
// back on every later start, so kids survive restarts.
//
// Rotation (`rotate`, run by `keys/rotate-keys.ts` or a test) makes a fresh key
// current and retires the old one without logging anyone out: a retired signing
// key stays in the JWKS for the access-token lifetime plus two reload periods, so
// every token it signed verifies until it expires; a retired login key still
// decrypts for `loginKeyGraceSeconds`, so clients with a cached public key keep
// working. Every instance reloads the ring periodically, so a rotation made by
// one instance (or the command) reaches the others within `reloadIntervalMs`.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ACCESS_TOKEN_ALGORITHM, type JsonWebKeySet, type Logger } from '@im-mesh/platform';
import type { KeyPurpose, KeyStore, StoredKey } from '../storage/key-store.js';
import type { SecretSealer } from './secret-sealer.js';

/** RSA modulus size of newly generated keys, in bits. */
export const MODULUS_BITS = 3072;

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
  /** Access-token lifetime, in seconds: how long a retired signing key must keep verifying. */
  accessTokenTtlSeconds: number;
  /** How long a retired login key still decrypts, in seconds. */
  loginKeyGraceSeconds: number;
  /** How often the ring rereads the keys table, in ms. 60 s by default; 0 never. */
  reloadIntervalMs?: number;
  sealer: SecretSealer;
  logger: Logger;
}

interface RingState {
  loginKey: LoginKey;
  loginKeys: Map<string, LoginKey>;
  signingKey: SigningKey;
  jwks: JsonWebKeySet;
  jwksJson: string;
}

export class KeyRing {
  private reloadTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: KeyStore,
    private readonly options: KeyRingOptions,
    private state: RingState,
  ) {}

  /**
   * Reads the current keys, generating and storing any that do not exist yet,
   * seals keys stored in clear text (rows from before encryption) and re-seals
   * keys sealed under an older KEK. Throws when a stored key opens with no
   * configured KEK: starting with new keys would silently log everybody out.
   */
  static async load(store: KeyStore, options: KeyRingOptions): Promise<KeyRing> {
    await sealStoredKeys(store, options.sealer, options.logger);
    await currentKey(store, 'login', options);
    await currentKey(store, 'signing', options);
    const ring = new KeyRing(store, options, await readState(store, options));
    const interval = options.reloadIntervalMs ?? 60_000;
    if (interval > 0) {
      ring.reloadTimer = setInterval(() => {
        ring.reload().catch((error: unknown) => options.logger.warn({ err: error }, 'rereading the keys failed; keeping the ones loaded'));
      }, interval);
      ring.reloadTimer.unref();
    }
    return ring;
  }

  /** The login key GetLoginKey hands out. */
  get loginKey(): LoginKey {
    return this.state.loginKey;
  }

  /** The current login key or a retired one still within its grace period, by kid. */
  loginKeyFor(kid: string): LoginKey | undefined {
    return this.state.loginKeys.get(kid);
  }

  /** The key that signs new tokens. */
  get signingKey(): SigningKey {
    return this.state.signingKey;
  }

  /** The JSON Web Key Set of every signing key that may verify a live token. */
  get jwks(): JsonWebKeySet {
    return this.state.jwks;
  }

  /** The JWKS as served by GetJwks and /.well-known/jwks.json. */
  jwksJson(): string {
    return this.state.jwksJson;
  }

  /** Rereads the keys table (rotations made elsewhere). */
  async reload(): Promise<void> {
    this.state = await readState(this.store, this.options);
  }

  /**
   * Generates a new key for `purpose`, makes it current and retires the old one
   * (which keeps working for its grace period), then reloads. Returns the new kid.
   */
  async rotate(purpose: KeyPurpose, now = new Date()): Promise<string> {
    const current = await this.store.findCurrent(purpose);
    if (!current) throw new Error(`there is no current ${purpose} key to rotate`);
    const generated = await generateSealedKey(purpose, this.options.sealer);
    if (!(await this.store.rotate(generated, current.kid, now))) {
      throw new Error(`the ${purpose} key was rotated by someone else at the same time; try again`);
    }
    this.options.logger.info({ purpose, retiredKid: current.kid, kid: generated.kid }, 'rotated an RSA key');
    await this.reload();
    return generated.kid;
  }

  /** Stops the periodic reload. */
  close(): void {
    clearInterval(this.reloadTimer);
  }
}

async function readState(store: KeyStore, options: KeyRingOptions): Promise<RingState> {
  const now = Date.now();
  const reloadMs = options.reloadIntervalMs ?? 60_000;
  // Another instance may keep signing with a retired key until its next reload.
  const signingGraceMs = options.accessTokenTtlSeconds * 1000 + 2 * reloadMs;
  const signing = await store.findUsable('signing', new Date(now - signingGraceMs));
  const login = await store.findUsable('login', new Date(now - options.loginKeyGraceSeconds * 1000));
  const currentSigning = signing.find((key) => key.retiredAt === null);
  const currentLogin = login.find((key) => key.retiredAt === null);
  if (!currentSigning || !currentLogin) throw new Error('the keys table lost its current key');

  const loginKeys = new Map<string, LoginKey>();
  for (const key of login) {
    loginKeys.set(key.kid, { kid: key.kid, publicKeyPem: key.publicKeyPem, privateKey: openPrivateKey(key, options.sealer) });
  }
  const jwks: JsonWebKeySet = { keys: signing.map(toJwk) };
  return {
    loginKey: loginKeys.get(currentLogin.kid)!,
    loginKeys,
    signingKey: { kid: currentSigning.kid, privateKey: openPrivateKey(currentSigning, options.sealer) },
    jwks,
    jwksJson: JSON.stringify(jwks),
  };
}

async function currentKey(store: KeyStore, purpose: KeyPurpose, options: KeyRingOptions): Promise<void> {
  if (await store.findCurrent(purpose)) return;
  const generated = await generateSealedKey(purpose, options.sealer);
  await store.insertUnlessCurrentExists(generated);
  // Another instance starting at the same moment may have stored its key first;
  // whichever is current now is the one everybody uses.
  const current = await store.findCurrent(purpose);
  if (!current) throw new Error(`the ${purpose} key vanished right after it was stored`);
  if (current.kid === generated.kid) options.logger.info({ kid: generated.kid, purpose, bits: MODULUS_BITS }, 'generated a new RSA key');
}

async function generateSealedKey(purpose: KeyPurpose, sealer: SecretSealer) {
  const { publicKey, privateKey } = await generateRsaKeyPair('rsa', {
    modulusLength: MODULUS_BITS,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const kid = thumbprintOf(publicKey);
  return { kid, purpose, publicKeyPem: publicKey, privateKeySealed: sealer.seal(Buffer.from(privateKey, 'utf8'), keyBinding(kid, purpose)) };
}

/** Seals clear-text rows and re-seals rows sealed under a KEK that no longer seals. */
async function sealStoredKeys(store: KeyStore, sealer: SecretSealer, logger: Logger): Promise<void> {
  for (const key of await store.findAll()) {
    if (key.privateKeySealed && !sealer.isStale(key.privateKeySealed)) continue;
    const pem = key.privateKeySealed ? sealer.unseal(key.privateKeySealed, keyBinding(key.kid, key.purpose)) : Buffer.from(key.privateKeyPem ?? '', 'utf8');
    await store.storeSealed(key.kid, sealer.seal(pem, keyBinding(key.kid, key.purpose)));
    logger.info({ kid: key.kid, purpose: key.purpose, kek: sealer.currentKekId }, key.privateKeySealed ? 're-sealed an RSA key under the current KEK' : 'sealed an RSA key stored in clear text');
  }
}

function openPrivateKey(key: StoredKey, sealer: SecretSealer): KeyObject {
  if (!key.privateKeySealed) throw new Error(`the ${key.purpose} key ${key.kid} is not sealed`);
  return createPrivateKey(sealer.unseal(key.privateKeySealed, keyBinding(key.kid, key.purpose)).toString('utf8'));
}

/** Associated data of a sealed private key: a sealed key copied onto another row does not open. */
function keyBinding(kid: string, purpose: KeyPurpose): string {
  return `auth.keys:${purpose}:${kid}`;
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
