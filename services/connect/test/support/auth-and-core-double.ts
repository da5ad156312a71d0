// TEST DOUBLE, not the real services: one in-test gRPC server that plays auth's
// im.internal.v1.KeyService (a JWKS holding one test RSA key) and
// SessionStatusService (every session live unless marked ended), and core's
// im.internal.v1.DeliveryService (records every ReportDelivered call). The real
// auth and core are built elsewhere; connect only needs these two contracts.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { internalV1 } from '@im-mesh/contracts';
import jwt from 'jsonwebtoken';
import { createServer, ServerError, Status } from 'nice-grpc';

export const TEST_ISSUER = 'im-mesh-test';
export const TEST_AUDIENCE = 'im-mesh-test';
const KID = 'test-key-1';

export interface TokenClaims {
  userId: string;
  deviceId: string;
  sessionId?: string;
  /** Lifetime in seconds; negative for an already expired token. */
  expiresInSeconds?: number;
}

export interface AuthAndCoreDouble {
  /** host:port, for AUTH_ADDRESS and CORE_ADDRESS. */
  address: string;
  /** An access token as auth would issue it (RS256, typ at+jwt, kid). */
  token(claims: TokenClaims): string;
  /** Same shape and kid, signed with a key auth never published. */
  forgedToken(claims: TokenClaims): string;
  /** An unsigned token with alg "none". */
  noneAlgToken(claims: TokenClaims): string;
  /** Every ReportDelivered call's deliveries, in arrival order. */
  reports: internalV1.DeviceDelivery[][];
  /** Makes CheckSession answer that this session has ended (logged out or revoked). */
  endSession(sessionId: string): void;
  /** Makes the next `count` ReportDelivered calls fail with UNAVAILABLE. */
  failNextReports(count: number): void;
  close(): Promise<void>;
}

interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

// Key generation is slow on small machines; one pair of keys serves every double
// in the process.
let keys: { signing: KeyPair; stranger: KeyPair } | undefined;
function testKeys(): { signing: KeyPair; stranger: KeyPair } {
  keys ??= {
    signing: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    stranger: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  };
  return keys;
}

export async function startAuthAndCoreDouble(): Promise<AuthAndCoreDouble> {
  const { signing, stranger } = testKeys();
  const reports: internalV1.DeviceDelivery[][] = [];
  let failuresLeft = 0;
  const endedSessions = new Set<string>();

  const server = createServer();
  server.add(internalV1.KeyServiceDefinition, {
    async getJwks() {
      const jwk = signing.publicKey.export({ format: 'jwk' });
      return { jwksJson: JSON.stringify({ keys: [{ ...jwk, kid: KID, alg: 'RS256', use: 'sig' }] }) };
    },
  });
  const standing = (request: internalV1.CheckSessionRequest): internalV1.CheckSessionResponse => {
    const ended = endedSessions.has(request.sessionId);
    return { state: ended ? internalV1.SessionState.SESSION_STATE_REVOKED : internalV1.SessionState.SESSION_STATE_LIVE, reason: '' };
  };
  server.add(internalV1.SessionStatusServiceDefinition, {
    async checkSession(request) {
      return standing(request);
    },
    async checkSessions(request) {
      return { results: request.sessions.map(standing) };
    },
  });
  server.add(internalV1.DeliveryServiceDefinition, {
    async reportDelivered(request) {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new ServerError(Status.UNAVAILABLE, 'core double: failing on purpose');
      }
      reports.push(request.deliveries);
      return {};
    },
  });
  const port = await server.listen('127.0.0.1:0');

  const sign = (claims: TokenClaims, key: KeyObject) =>
    jwt.sign({ sid: claims.sessionId ?? `session-${claims.deviceId}`, did: claims.deviceId }, key, {
      algorithm: 'RS256',
      keyid: KID,
      header: { alg: 'RS256', typ: 'at+jwt', kid: KID },
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      subject: claims.userId,
      expiresIn: claims.expiresInSeconds ?? 300,
    });

  return {
    address: `127.0.0.1:${port}`,
    token: (claims) => sign(claims, signing.privateKey),
    forgedToken: (claims) => sign(claims, stranger.privateKey),
    noneAlgToken: (claims) => {
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      const header = part({ alg: 'none', typ: 'at+jwt', kid: KID });
      const payload = part({
        sub: claims.userId,
        sid: claims.sessionId ?? 'session',
        did: claims.deviceId,
        iss: TEST_ISSUER,
        aud: TEST_AUDIENCE,
        iat: now,
        exp: now + 300,
      });
      return `${header}.${payload}.`;
    },
    reports,
    endSession: (sessionId) => void endedSessions.add(sessionId),
    failNextReports: (count) => {
      failuresLeft = count;
    },
    close: () => server.shutdown(),
  };
}
