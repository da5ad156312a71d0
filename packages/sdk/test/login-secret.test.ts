// The password envelope built with WebCrypto must be what the server can open
// with node:crypto (RSA-OAEP, SHA-256), carrying the exact JSON the proto names.
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { test } from 'node:test';
import { encryptLoginSecret } from '../src/login-secret.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

function decrypt(ciphertext: Uint8Array): unknown {
  const plaintext = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    ciphertext,
  );
  return JSON.parse(plaintext.toString('utf8'));
}

test('the server decrypts the login secret with its private key (OAEP SHA-256) to password, nonce and ts', async () => {
  const secret = { password: 'correct horse battery staple ✓', nonce: 'n-7f3a9c', ts: 1_764_000_000_123 };
  const ciphertext = await encryptLoginSecret(publicKeyPem, secret);
  assert.equal(ciphertext.byteLength, 256);
  assert.deepEqual(decrypt(ciphertext), secret);
});

test('two encryptions of the same secret differ, so a ciphertext cannot be recognised', async () => {
  const secret = { password: 'pw', nonce: 'n', ts: 1 };
  const first = await encryptLoginSecret(publicKeyPem, secret);
  const second = await encryptLoginSecret(publicKeyPem, secret);
  assert.notDeepEqual(first, second);
  assert.deepEqual(decrypt(second), secret);
});

test('a key that is not an SPKI PEM and a password too long for the key are refused with a readable message', async () => {
  const pkcs1 = publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  await assert.rejects(encryptLoginSecret(pkcs1, { password: 'pw', nonce: 'n', ts: 1 }), /PUBLIC KEY/);
  await assert.rejects(
    encryptLoginSecret(publicKeyPem, { password: 'x'.repeat(200), nonce: 'n', ts: 1 }),
    /too long to encrypt/,
  );
});
