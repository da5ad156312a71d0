// AuthClient: register, log in, refresh and log out against im.auth.v1, and the
// AccessTokenSource every other part of the SDK asks for tokens. Each Register or
// Login first calls GetLoginKey for a fresh single-use nonce and encrypts the
// password with it (see login-secret.ts); the password never leaves in clear.
import type { authV1 } from '@im-mesh/contracts';
import type { CallOptions } from 'nice-grpc-common';
import type { AccessTokenOptions, AccessTokenSource } from './access-token-source.js';
import { encryptLoginSecret } from './login-secret.js';
import { browserPlatform, type SdkPlatform } from './platform.js';
import { callWithRetry, DEFAULT_CALL_POLICY, type CallPolicy } from './rpc-call.js';
import { DEFAULT_BASE_URL, openRpcChannel, type RpcChannel, type RpcKind } from './rpc-channel.js';

const AUTH_PATH = '/im.auth.v1.AuthService/';

/** A logged-in device: who, which session, and its current tokens. */
export interface AuthSession {
  readonly userId: string;
  readonly sessionId: string;
  readonly deviceId: string;
  readonly tokens: authV1.TokenPair;
}

export interface AuthClientOptions {
  /** Edge address. Default http://127.0.0.1:9191. */
  readonly baseUrl?: string;
  /** Protocol of the calls. Default 'grpc-web' (works everywhere); 'grpc' needs nodePlatform. */
  readonly rpc?: RpcKind;
  readonly platform?: SdkPlatform;
  /** Use this channel instead of opening one (it is then not closed by close()). */
  readonly channel?: RpcChannel;
  /** Refresh the access token when it expires within this many ms. Default 30,000. */
  readonly refreshMarginMs?: number;
  /** Deadline of each call, in ms. Default 10,000. */
  readonly callTimeoutMs?: number;
  /** A session saved earlier (for example from onSessionChange), to resume without logging in. */
  readonly session?: AuthSession;
  /** Called after login, every refresh and logout, so an app can persist the session. */
  readonly onSessionChange?: (session: AuthSession | undefined) => void;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export class AuthClient implements AccessTokenSource {
  private readonly channel: RpcChannel;
  private readonly ownsChannel: boolean;
  private readonly policy: CallPolicy;
  private readonly refreshMarginMs: number;
  private readonly now: () => number;
  private readonly onSessionChange: ((session: AuthSession | undefined) => void) | undefined;
  private current: AuthSession | undefined;
  private refreshing: Promise<authV1.TokenPair> | undefined;

  constructor(options: AuthClientOptions = {}) {
    this.ownsChannel = options.channel === undefined;
    this.channel =
      options.channel ??
      openRpcChannel(options.baseUrl ?? DEFAULT_BASE_URL, options.rpc ?? 'grpc-web', options.platform ?? browserPlatform());
    // Register and Login burn a nonce, so they are never retried blindly.
    this.policy = { ...DEFAULT_CALL_POLICY, timeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_POLICY.timeoutMs, attempts: 1 };
    this.refreshMarginMs = options.refreshMarginMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.onSessionChange = options.onSessionChange;
    this.current = options.session;
  }

  /** The logged-in session, if any. */
  get session(): AuthSession | undefined {
    return this.current;
  }

  /** Creates an account; does not log in. Resolves to the new user id. */
  async register(username: string, password: string, deviceId: string, displayName = ''): Promise<string> {
    const secret = await this.encryptPassword(password, deviceId);
    const response = await this.call('Register', (options) =>
      this.channel.auth.register({ username, password: secret, deviceId, displayName }, options),
    );
    return response.userId;
  }

  /** Logs in one device (`platform` is free text such as "web" or "node") and keeps its tokens. */
  async login(username: string, password: string, deviceId: string, platform: string): Promise<AuthSession> {
    const secret = await this.encryptPassword(password, deviceId);
    const response = await this.call('Login', (options) =>
      this.channel.auth.login({ username, password: secret, deviceId, devicePlatform: platform }, options),
    );
    if (response.tokens === undefined) throw new Error('The server answered Login without tokens.');
    this.setSession({ userId: response.userId, sessionId: response.sessionId, deviceId, tokens: response.tokens });
    return this.current as AuthSession;
  }

  /**
   * Exchanges the refresh token for a new pair (the old refresh token stops
   * working). Concurrent callers share one call.
   */
  refresh(): Promise<authV1.TokenPair> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Revokes the session on the server and forgets it here, even when the call fails. */
  async logout(): Promise<void> {
    const session = this.current;
    if (session === undefined) return;
    try {
      await callWithRetry(`${AUTH_PATH}Logout`, this, this.policy, (options) => this.channel.auth.logout({}, options));
    } finally {
      this.setSession(undefined);
    }
  }

  /** The access token, refreshed first when it expires within the margin (or when asked to). */
  async getAccessToken(options: AccessTokenOptions = {}): Promise<string> {
    const session = this.current;
    if (session === undefined) throw new Error('Not logged in: call login() first.');
    const expiresAt = session.tokens.accessTokenExpiresAt?.getTime() ?? 0;
    if (options.forceRefresh === true || expiresAt - this.now() <= this.refreshMarginMs) {
      return (await this.refresh()).accessToken;
    }
    return session.tokens.accessToken;
  }

  /** Closes the channel this client opened. */
  close(): void {
    if (this.ownsChannel) this.channel.close();
  }

  private async doRefresh(): Promise<authV1.TokenPair> {
    const session = this.current;
    if (session === undefined) throw new Error('Not logged in: call login() first.');
    const response = await this.call('RefreshToken', (options) =>
      this.channel.auth.refreshToken({ refreshToken: session.tokens.refreshToken }, options),
    );
    if (response.tokens === undefined) throw new Error('The server answered RefreshToken without tokens.');
    // A logout or another login while the call was in flight wins.
    if (this.current === session) this.setSession({ ...session, tokens: response.tokens });
    return response.tokens;
  }

  /** GetLoginKey, then the encrypted `{password, nonce, ts}` with `ts` on the server's clock. */
  private async encryptPassword(password: string, deviceId: string): Promise<authV1.EncryptedSecret> {
    const requestedAt = this.now();
    const key = await this.call('GetLoginKey', (options) => this.channel.auth.getLoginKey({ deviceId }, options));
    const receivedAt = this.now();
    // The server clock at the middle of the round trip, carried forward.
    const skew = key.serverTime === undefined ? 0 : key.serverTime.getTime() - (requestedAt + receivedAt) / 2;
    const ciphertext = await encryptLoginSecret(key.publicKeyPem, {
      password,
      nonce: key.nonce,
      ts: Math.round(this.now() + skew),
    });
    return { kid: key.kid, ciphertext };
  }

  private call<T>(method: string, call: (options: CallOptions) => Promise<T>): Promise<T> {
    return callWithRetry(`${AUTH_PATH}${method}`, undefined, this.policy, call);
  }

  private setSession(session: AuthSession | undefined): void {
    this.current = session;
    this.onSessionChange?.(session);
  }
}
