// Password reset with an SMS code (purpose "reset_password"): the code proves
// the caller holds the account's phone number; the new password arrives
// encrypted like Register's, follows the same policy, and every session of the
// account ends (a reset usually means someone else may know the old password).
// A wrong code and an unknown number give one answer.
import { AppError, type Logger } from '@im-mesh/platform';
import type { EncryptedSecret, LoginChallenge } from '../login/login-challenge.js';
import type { LoginThrottle } from '../login/login-throttle.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import { checkNewPassword } from '../passwords/password-policy.js';
import type { ContactSealing } from '../protection/contact-sealing.js';
import type { Sessions } from '../sessions/sessions.js';
import type { SmsCodes } from '../sms/sms-codes.js';
import type { AccountStore } from '../storage/account-store.js';
import type { ContactStore } from '../storage/contact-store.js';
import { checkDeviceId } from './account-rules.js';
import { normalisePhoneNumber } from './phone-number.js';
import { SECRET_REFUSED } from './registration.js';

export const RESET_FAILED = 'Password reset failed: the code is wrong, used or expired, or the number has no account. Ask for a new code.';

export interface PasswordResetRequest {
  phoneNumber: string;
  code: string;
  newPassword: EncryptedSecret | undefined;
  deviceId: string;
  clientAddress: string;
  signal?: AbortSignal;
}

export interface PasswordResetDeps {
  accounts: AccountStore;
  contacts: ContactStore;
  sealing: ContactSealing;
  codes: SmsCodes;
  challenge: LoginChallenge;
  hasher: PasswordHasher;
  sessions: Sessions;
  throttle: LoginThrottle;
  logger: Logger;
}

export class PasswordReset {
  constructor(private readonly deps: PasswordResetDeps) {}

  async reset(request: PasswordResetRequest): Promise<void> {
    const deviceId = checkDeviceId(request.deviceId);
    const phone = normalisePhoneNumber(request.phoneNumber);
    const index = this.deps.sealing.index('phone', phone);
    await this.deps.throttle.admit(`phone:${index.toString('base64url')}`, request.clientAddress);

    // The secret first: a bad ciphertext must not spend the code.
    const secret = await this.deps.challenge.open(request.newPassword, deviceId);
    if (!secret.ok) throw AppError.invalidArgument(SECRET_REFUSED, 'SECRET_REFUSED');
    // Length and common-password rules need no account; the username rule is checked below.
    checkNewPassword(secret.password, '');

    const { owner, user } = await this.deps.throttle.counting(request.clientAddress, async () => {
      if (!(await this.deps.codes.verify(phone, 'reset_password', request.code))) throw failed();
      const found = await this.deps.contacts.findOwner('phone', index);
      if (!found || found.disabled) throw failed();
      const [summary] = await this.deps.accounts.findActiveUsers([found.userId]);
      if (!summary) throw failed();
      return { owner: found, user: summary };
    });
    checkNewPassword(secret.password, user.username);

    await this.deps.accounts.setPasswordHash(owner.userId, await this.deps.hasher.hash(secret.password, request.signal));
    const ended = await this.deps.sessions.revokeAll(owner.userId, undefined, 'password reset');
    this.deps.logger.info({ userId: owner.userId, sessionsEnded: ended }, 'password reset with an SMS code');
  }
}

function failed(): AppError {
  return AppError.unauthenticated(RESET_FAILED, 'RESET_FAILED');
}
