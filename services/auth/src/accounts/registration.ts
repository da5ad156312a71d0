// Registration: validate the fields, open the encrypted password (which burns
// its nonce), hash it with argon2id and create the account. A taken username is
// refused with ALREADY_EXISTS and stores nothing. Registering does not log in.
import { AppError, uuidv7, type Logger } from '@im-mesh/platform';
import type { AuthMetrics } from '../auth-metrics.js';
import type { EncryptedSecret, LoginChallenge } from '../login/login-challenge.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import type { AccountStore } from '../storage/account-store.js';
import { checkDeviceId, checkDisplayName, checkPassword, checkUsername } from './account-rules.js';

const SECRET_REFUSED =
  'password could not be read: the encrypted secret is malformed, or its nonce was used, expired or issued to ' +
  'another device, or its timestamp is too far from the server clock. Get a fresh login key and encrypt again.';

export interface RegisterRequest {
  username: string;
  password: EncryptedSecret | undefined;
  deviceId: string;
  displayName: string;
  /** The call's signal: an abandoned registration does not wait for argon2. */
  signal?: AbortSignal;
}

export interface RegistrationDeps {
  accounts: AccountStore;
  challenge: LoginChallenge;
  hasher: PasswordHasher;
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

    const secret = await this.deps.challenge.open(request.password, deviceId);
    if (!secret.ok) {
      this.deps.metrics.registration('rejected_secret');
      this.deps.logger.debug({ rejection: secret.rejection }, 'registration secret refused');
      throw AppError.invalidArgument(SECRET_REFUSED, 'SECRET_REFUSED');
    }
    const password = checkPassword(secret.password);

    // Checked before hashing so a taken name costs no argon2 time; the insert
    // below still settles races between two registrations of one name.
    if (await this.deps.accounts.usernameTaken(username)) return this.taken(username);
    const passwordHash = await this.deps.hasher.hash(password, request.signal);
    const userId = uuidv7();
    const created = await this.deps.accounts.createAccount({ id: userId, username, displayName, passwordHash });
    if (created === 'username_taken') return this.taken(username);

    this.deps.metrics.registration('created');
    this.deps.logger.info({ userId, username }, 'account registered');
    return { userId };
  }

  private taken(username: string): never {
    this.deps.metrics.registration('username_taken');
    throw new AppError('already_exists', `The username "${username}" is already taken. Choose another one.`, {
      reason: 'USERNAME_TAKEN',
    });
  }
}
