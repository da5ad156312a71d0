// Registration with username and password: validate the fields, open the
// encrypted password (which burns its nonce), check it against the password
// policy, hash it with argon2id and create the account. Registering does not
// log in.
//
// Timing: a taken username is discovered by the insert, after the password was
// hashed, so "taken" costs the same argon2 time as "created"; a secret that
// does not open spends one dummy hash too. The answers differ where they must
// (a person needs to know a name is taken) but the clock says nothing more.
import { AppError, uuidv7, type Logger } from '@im-mesh/platform';
import type { AuthMetrics } from '../auth-metrics.js';
import type { EncryptedSecret, LoginChallenge } from '../login/login-challenge.js';
import type { LoginThrottle } from '../login/login-throttle.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import { checkNewPassword } from '../passwords/password-policy.js';
import type { AccountStore } from '../storage/account-store.js';
import { checkDeviceId, checkDisplayName, checkUsername } from './account-rules.js';

export const SECRET_REFUSED =
  'password could not be read: the encrypted secret is malformed, or its nonce was used, expired or issued to ' +
  'another device, or its timestamp is too far from the server clock. Get a fresh login key and encrypt again.';

export interface RegisterRequest {
  username: string;
  password: EncryptedSecret | undefined;
  deviceId: string;
  displayName: string;
  /** The caller's address (client-address.ts), for the per-address limit. */
  clientAddress: string;
  /** The call's signal: an abandoned registration does not wait for argon2. */
  signal?: AbortSignal;
}

export interface RegistrationDeps {
  accounts: AccountStore;
  challenge: LoginChallenge;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  metrics: AuthMetrics;
  logger: Logger;
}

export class Registration {
  constructor(private readonly deps: RegistrationDeps) {}

  /** Creates the account and returns its id. */
  async register(request: RegisterRequest): Promise<{ userId: string }> {
    const username = checkUsername(request.username);
    const displayName = checkDisplayName(request.displayName, username);
    const deviceId = checkDeviceId(request.deviceId);
    await this.deps.throttle.admitRegistration(request.clientAddress);

    const secret = await this.deps.challenge.open(request.password, deviceId);
    if (!secret.ok) {
      await this.deps.hasher.verifyAgainstDummy('', request.signal);
      this.deps.metrics.registration('rejected_secret');
      this.deps.logger.debug({ rejection: secret.rejection }, 'registration secret refused');
      throw AppError.invalidArgument(SECRET_REFUSED, 'SECRET_REFUSED');
    }
    const password = checkNewPassword(secret.password, username);

    const passwordHash = await this.deps.hasher.hash(password, request.signal);
    const userId = uuidv7();
    const created = await this.deps.accounts.createAccount({ id: userId, username, displayName, passwordHash });
    if (created === 'username_taken') {
      this.deps.metrics.registration('username_taken');
      throw usernameTaken(username);
    }
    this.deps.metrics.registration('created');
    this.deps.logger.info({ userId }, 'account registered');
    return { userId };
  }
}

export function usernameTaken(username: string): AppError {
  return new AppError('already_exists', `The username "${username}" is already taken. Choose another one.`, { reason: 'USERNAME_TAKEN' });
}
