// AuthClient against a small AuthService stand-in over native gRPC that does what
// the contract says the real one does: a fresh single-use nonce per GetLoginKey,
// the password inside RSA-OAEP(SHA-256) ciphertext, tokens that expire and
// refresh tokens that rotate.
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { createServer, ServerError, Status, type CallContext, type Server } from 'nice-grpc';
import { AuthClient, type AuthSession } from '../src/index.js';
import { nodePlatform } from '../src/node.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

function smsDisabled(): never {
  throw new ServerError(Status.FAILED_PRECONDITION, 'SMS codes are not enabled on this server.');
}

class FakeAuthService {
  readonly passwords = new Map<string, string>();
  readonly nonces = new Map<string, string>();
  readonly refreshTokens = new Map<string, string>();
  readonly accessTokens = new Map<string, string>();
  accessTtlMs = 60_000;
  refreshCalls = 0;

  private openSecret(deviceId: string, secret: authV1.EncryptedSecret | undefined): string {
    const plaintext = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      secret?.ciphertext ?? new Uint8Array(),
    );
    const { password, nonce, ts } = JSON.parse(plaintext.toString('utf8')) as { password: string; nonce: string; ts: number };
    if (this.nonces.get(nonce) !== deviceId) throw new ServerError(Status.UNAUTHENTICATED, 'Unknown or used nonce.');
    this.nonces.delete(nonce);
    if (Math.abs(Date.now() - ts) > 30_000) throw new ServerError(Status.UNAUTHENTICATED, 'Stale timestamp.');
    return password;
  }

  private issue(userId: string): authV1.TokenPair {
    const accessToken = `at-${randomUUID()}`;
    const refreshToken = `rt-${randomUUID()}`;
    this.accessTokens.set(accessToken, userId);
    this.refreshTokens.set(refreshToken, userId);
    return {
      accessToken,
      accessTokenExpiresAt: new Date(Date.now() + this.accessTtlMs),
      refreshToken,
      refreshTokenExpiresAt: new Date(Date.now() + 3_600_000),
    };
  }

  readonly implementation = {
    getLoginKey: async (request: authV1.GetLoginKeyRequest) => {
      const nonce = randomUUID();
      this.nonces.set(nonce, request.deviceId);
      return {
        kid: 'k1',
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        nonce,
        nonceExpiresAt: new Date(Date.now() + 60_000),
        serverTime: new Date(),
      };
    },
    register: async (request: authV1.RegisterRequest) => {
      this.passwords.set(request.username, this.openSecret(request.deviceId, request.password));
      return { userId: `u-${request.username}` };
    },
    login: async (request: authV1.LoginRequest) => {
      const password = this.openSecret(request.deviceId, request.password);
      if (this.passwords.get(request.username) !== password) {
        throw new ServerError(Status.UNAUTHENTICATED, 'Wrong username or password.');
      }
      return { userId: `u-${request.username}`, sessionId: 's1', tokens: this.issue(`u-${request.username}`) };
    },
    refreshToken: async (request: authV1.RefreshTokenRequest) => {
      this.refreshCalls += 1;
      const userId = this.refreshTokens.get(request.refreshToken);
      if (userId === undefined) throw new ServerError(Status.UNAUTHENTICATED, 'Unknown refresh token.');
      this.refreshTokens.delete(request.refreshToken);
      return { tokens: this.issue(userId) };
    },
    logout: async (_request: authV1.LogoutRequest, context: CallContext) => {
      const token = context.metadata.get('authorization')?.replace(/^Bearer /, '') ?? '';
      if (!this.accessTokens.delete(token)) throw new ServerError(Status.UNAUTHENTICATED, 'Not logged in.');
      return {};
    },
    // The SDK has no SMS flows yet; the fake answers them as a server with SMS turned off would.
    sendSmsCode: async () => smsDisabled(),
    registerWithSmsCode: async () => smsDisabled(),
    loginWithSmsCode: async () => smsDisabled(),
    resetPasswordWithSmsCode: async () => smsDisabled(),
  };
}

describe('AuthClient', () => {
  const service = new FakeAuthService();
  let server: Server;
  let baseUrl: string;
  const clients: AuthClient[] = [];
  const open = (options: { onSessionChange?: (session: AuthSession | undefined) => void } = {}): AuthClient => {
    const client = new AuthClient({ baseUrl, rpc: 'grpc', platform: nodePlatform, ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    server = createServer();
    server.add(authV1.AuthServiceDefinition, service.implementation);
    baseUrl = `http://127.0.0.1:${await server.listen('127.0.0.1:0')}`;
  });
  after(async () => {
    for (const client of clients) client.close();
    server.forceShutdown();
  });

  test('register then login with the encrypted password gives a session and tokens, each with its own nonce', async () => {
    const sessions: Array<AuthSession | undefined> = [];
    const auth = open({ onSessionChange: (session) => sessions.push(session) });
    assert.equal(await auth.register('alice', 'pa55word', 'dev-1'), 'u-alice');
    const session = await auth.login('alice', 'pa55word', 'dev-1', 'node');
    assert.equal(session.userId, 'u-alice');
    assert.equal(session.deviceId, 'dev-1');
    assert.equal(await auth.getAccessToken(), session.tokens.accessToken);
    assert.equal(service.nonces.size, 0, 'every nonce was used once');
    assert.deepEqual(sessions, [session]);
  });

  test('a wrong password is refused with UNAUTHENTICATED and leaves the client logged out', async () => {
    const auth = open();
    await assert.rejects(auth.login('alice', 'wrong', 'dev-2', 'node'), { code: Status.UNAUTHENTICATED });
    assert.equal(auth.session, undefined);
    await assert.rejects(auth.getAccessToken(), /Not logged in/);
  });

  test('an access token close to expiry is refreshed once for concurrent callers, rotating the refresh token', async () => {
    const auth = open();
    service.accessTtlMs = 10_000; // inside the default 30 s refresh margin
    try {
      const session = await auth.login('alice', 'pa55word', 'dev-3', 'web');
      const before = service.refreshCalls;
      const tokens = await Promise.all([auth.getAccessToken(), auth.getAccessToken(), auth.getAccessToken()]);
      assert.equal(service.refreshCalls - before, 1);
      assert.equal(new Set(tokens).size, 1);
      assert.notEqual(tokens[0], session.tokens.accessToken);
      assert.equal(service.refreshTokens.has(session.tokens.refreshToken), false);
    } finally {
      service.accessTtlMs = 60_000;
    }
  });

  test('logout revokes the session on the server and forgets it locally', async () => {
    const auth = open();
    const session = await auth.login('alice', 'pa55word', 'dev-4', 'node');
    await auth.logout();
    assert.equal(service.accessTokens.has(session.tokens.accessToken), false);
    assert.equal(auth.session, undefined);
  });
});
