// TEST DOUBLE of the auth service, for core's tests only. It serves the two
// internal contracts core depends on (internalV1.KeyService with the JWKS of a
// freshly generated RSA key, internalV1.UserDirectoryService over a fixed set of
// users) and signs access tokens the way auth does (RS256, typ at+jwt, kid,
// iss/aud/sub/sid/did/exp), and service tokens (typ service+jwt, sub, role).
// It is not auth: no passwords, sessions or storage.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createServer } from 'nice-grpc';
import { internalV1 } from '@im-mesh/contracts';

export const TEST_ISSUER = 'im-mesh';
export const TEST_AUDIENCE = 'im-mesh';

export interface AuthTestDouble {
  /** host:port of the gRPC server. */
  address: string;
  /** Adds a user the directory will confirm. */
  addUser(userId: string): void;
  /** Gives a user a verified phone number (E.164) that FindUser matches. */
  addPhone(userId: string, e164: string): void;
  /** How many LookupUsers calls the directory has answered. */
  lookups(): number;
  /** A service token of a service account, as auth's ServiceTokenService issues it (typ service+jwt). */
  serviceToken(clientId: string, role: 'service' | 'admin'): string;
  /** A valid access token for this user and device (15 minutes unless told). */
  token(userId: string, deviceId: string, options?: { expiresInSeconds?: number }): string;
  close(): Promise<void>;
}

export async function startAuthTestDouble(users: readonly string[]): Promise<AuthTestDouble> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `test-${randomUUID()}`;
  const jwks = { keys: [{ ...(publicKey.export({ format: 'jwk' }) as object), kid, alg: 'RS256', use: 'sig' }] };
  const known = new Set(users);
  const phones = new Map<string, string>();
  let lookupCount = 0;

  const server = createServer();
  server.add(internalV1.KeyServiceDefinition, {
    async getJwks() {
      return { jwksJson: JSON.stringify(jwks) };
    },
  });
  server.add(internalV1.UserDirectoryServiceDefinition, {
    async lookupUsers(request) {
      lookupCount += 1;
      return { users: request.userIds.filter((id) => known.has(id)).map((userId) => ({ userId, username: `user-${userId.slice(0, 8)}`, displayName: '' })) };
    },
    async findUser(request) {
      // Usernames here are "user-<first 8 characters of the id>", as lookupUsers answers.
      let userId: string | undefined;
      if (request.key?.$case === 'username') {
        const wanted = request.key.value.toLowerCase();
        userId = [...known].find((id) => `user-${id.slice(0, 8)}` === wanted);
      } else if (request.key?.$case === 'phoneNumber') {
        // Like auth: separators are ignored; only verified (added) numbers match.
        userId = phones.get(request.key.value.replace(/[\s().-]/g, ''));
      }
      return { user: userId ? { userId, username: `user-${userId.slice(0, 8)}`, displayName: '' } : undefined };
    },
  });
  const port = await server.listen('127.0.0.1:0');

  return {
    address: `127.0.0.1:${port}`,
    addUser: (userId) => void known.add(userId),
    addPhone: (userId, e164) => void phones.set(e164, userId),
    lookups: () => lookupCount,
    token: (userId, deviceId, options = {}) => signAccessToken(privateKey, kid, userId, deviceId, options.expiresInSeconds ?? 900),
    serviceToken: (clientId, role) =>
      jwt.sign({ role }, privateKey, {
        algorithm: 'RS256',
        header: { alg: 'RS256', typ: 'service+jwt', kid },
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        subject: clientId,
        expiresIn: 300,
      }),
    close: () => server.shutdown(),
  };
}

function signAccessToken(key: KeyObject, kid: string, userId: string, deviceId: string, expiresInSeconds: number): string {
  return jwt.sign({ sid: randomUUID(), did: deviceId }, key, {
    algorithm: 'RS256',
    keyid: kid,
    header: { alg: 'RS256', typ: 'at+jwt', kid },
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    subject: userId,
    expiresIn: expiresInSeconds,
  });
}
