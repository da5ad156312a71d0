// Login: spend an attempt (login-throttle.ts), open the encrypted secret, check
// the password, open a session. Every failure, whatever its cause, gives the
// caller the same status and sentence, and an unknown username or a refused
// secret still pays for one argon2 verification, so neither the answer nor its
// timing tells an attacker which usernames exist.
import { AppError, type Logger } from '@im-mesh/platform';
import { checkDeviceId, checkDevicePlatform, isValidUsername } from '../accounts/account-rules.js';
import type { AuthMetrics, LoginOutcome } from '../auth-metrics.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import type { OpenedSession, Sessions } from '../sessions/sessions.js';
import type { AccountStore } from '../storage/account-store.js';
import type { EncryptedSecret, LoginChallenge } from './login-challenge.js';
import type { LoginThrottle } from './login-throttle.js';

export const LOGIN_FAILED =
  'Login failed: the username or password is wrong, or the login nonce was used, expired or issued to another device. ' +
  'Get a fresh login key and try again.';

export interface LoginRequest {
  username: string;
  password: EncryptedSecret | undefined;
  deviceId: string;
  devicePlatform: string;
  /** The caller's address (client-address.ts), for the brute-force limits. */
  clientAddress: string;
  /** The call's signal: an abandoned login does not wait for argon2. */
  signal?: AbortSignal;
}

export interface LoginResult extends OpenedSession {
  userId: string;
}

export interface LoginFlowDeps {
  accounts: AccountStore;
  challenge: LoginChallenge;
  hasher: PasswordHasher;
  sessions: Sessions;
  throttle: LoginThrottle;
  metrics: AuthMetrics;
  logger: Logger;
}

export class LoginFlow {
  constructor(private readonly deps: LoginFlowDeps) {}

  async login(request: LoginRequest): Promise<LoginResult> {
    // Malformed device fields say nothing about the credentials, so they may fail plainly.
    const deviceId = checkDeviceId(request.deviceId);
    const devicePlatform = checkDevicePlatform(request.devicePlatform);
    // Keyed by what was typed, so unknown and known usernames are throttled alike.
    const account = `username:${request.username.toLowerCase()}`;
    await this.deps.throttle.admit(account, request.clientAddress);
    return this.deps.throttle.counting(request.clientAddress, () => this.check(request, account, deviceId, devicePlatform));
  }

  private async check(request: LoginRequest, account: string, deviceId: string, devicePlatform: string): Promise<LoginResult> {
    const secret = await this.deps.challenge.open(request.password, deviceId);
    if (!secret.ok) {
      this.deps.logger.debug({ rejection: secret.rejection }, 'login secret refused');
      await this.deps.hasher.verifyAgainstDummy('', request.signal);
      return this.fail('rejected_secret');
    }

    // No account can hold a name that breaks the username rules, so such a name
    // is an unknown user: same answer, same argon2 cost. It never reaches the
    // query, where a NUL would fail in PostgreSQL and answer INTERNAL instead.
    const credentials = isValidUsername(request.username)
      ? await this.deps.accounts.findLoginCredentials(request.username)
      : undefined;
    if (!credentials) {
      await this.deps.hasher.verifyAgainstDummy(secret.password, request.signal);
      return this.fail('unknown_user');
    }
    const matches = await this.deps.hasher.verify(credentials.passwordHash, secret.password, request.signal);
    if (!matches) return this.fail('wrong_password');
    if (credentials.disabled) return this.fail('disabled_user');

    const session = await this.deps.sessions.open(credentials.userId, deviceId, devicePlatform);
    await this.deps.throttle.succeeded(account, request.clientAddress);
    this.deps.metrics.login('success');
    this.deps.logger.info({ userId: credentials.userId, sessionId: session.sessionId, deviceId }, 'user logged in');
    return { userId: credentials.userId, ...session };
  }

  private fail(outcome: Exclude<LoginOutcome, 'success'>): never {
    this.deps.metrics.login(outcome);
    throw AppError.unauthenticated(LOGIN_FAILED, 'LOGIN_FAILED');
  }
}
