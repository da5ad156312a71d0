// Registration with a phone number: the SMS code proves the caller holds the
// number, then a password-less account is created with the number sealed
// (AES-256-GCM) and indexed (HMAC blind index), and a session is opened on the
// calling device (one code, not two: the number allows one code a minute). A
// username is optional; without one the account gets "user-" and ten random
// characters.
//
// A taken username is refused before the code is checked, so the code is not
// spent on it (usernames are public: Register tells the same). A number that
// already has an account is only revealed after a valid code, that is, only to
// whoever holds the phone.
import { randomInt } from 'node:crypto';
import { AppError, uuidv7, type Logger } from '@im-mesh/platform';
import type { LoginResult } from '../login/login.js';
import type { LoginThrottle } from '../login/login-throttle.js';
import type { ContactSealing } from '../protection/contact-sealing.js';
import type { Sessions } from '../sessions/sessions.js';
import type { SmsCodes } from '../sms/sms-codes.js';
import type { AccountStore } from '../storage/account-store.js';
import type { ContactStore } from '../storage/contact-store.js';
import { checkDeviceId, checkDevicePlatform, checkDisplayName, checkUsername } from './account-rules.js';
import { normalisePhoneNumber } from './phone-number.js';
import { usernameTaken } from './registration.js';

export const SMS_CODE_REJECTED = 'The code is wrong, was already used or has expired. Ask for a new code and try again.';
const GENERATED_NAME_TRIES = 3;
const NAME_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

export interface PhoneRegisterRequest {
  phoneNumber: string;
  code: string;
  username: string;
  displayName: string;
  deviceId: string;
  devicePlatform: string;
  clientAddress: string;
}

export interface PhoneRegistrationResult extends LoginResult {
  username: string;
}

export interface PhoneRegistrationDeps {
  accounts: AccountStore;
  contacts: ContactStore;
  sealing: ContactSealing;
  codes: SmsCodes;
  sessions: Sessions;
  throttle: LoginThrottle;
  logger: Logger;
}

export class PhoneRegistration {
  constructor(private readonly deps: PhoneRegistrationDeps) {}

  async register(request: PhoneRegisterRequest): Promise<PhoneRegistrationResult> {
    const phone = normalisePhoneNumber(request.phoneNumber);
    const deviceId = checkDeviceId(request.deviceId);
    const devicePlatform = checkDevicePlatform(request.devicePlatform);
    const chosen = request.username === '' ? undefined : checkUsername(request.username);
    // Checked now, so a bad display name does not spend the code; a generated
    // username stands in when none was chosen.
    checkDisplayName(request.displayName, chosen ?? 'user');
    await this.deps.throttle.admitRegistration(request.clientAddress);
    if (chosen !== undefined && (await this.deps.accounts.usernameTaken(chosen))) throw usernameTaken(chosen);

    if (!(await this.deps.codes.verify(phone, 'register', request.code))) {
      throw AppError.invalidArgument(SMS_CODE_REJECTED, 'SMS_CODE_REJECTED');
    }

    for (let attempt = 0; attempt < GENERATED_NAME_TRIES; attempt += 1) {
      const username = chosen ?? generatedUsername();
      const userId = uuidv7();
      const outcome = await this.deps.contacts.createPhoneAccount({
        userId,
        username,
        displayName: checkDisplayName(request.displayName, username),
        phone: this.deps.sealing.seal('phone', phone, uuidv7()),
      });
      if (outcome === 'created') {
        this.deps.logger.info({ userId }, 'account registered with a phone number');
        const session = await this.deps.sessions.open(userId, deviceId, devicePlatform);
        return { userId, username, ...session };
      }
      if (outcome === 'phone_taken') {
        throw new AppError('already_exists', 'This phone number already has an account. Log in with an SMS code instead.', {
          reason: 'PHONE_NUMBER_TAKEN',
        });
      }
      if (chosen !== undefined) throw usernameTaken(chosen);
      // A generated name collided (about one in 10^15): draw another.
    }
    throw new AppError('aborted', 'No free username could be generated. Try again, or choose a username.', { reason: 'USERNAME_GENERATION' });
  }
}

function generatedUsername(): string {
  let name = 'user-';
  for (let i = 0; i < 10; i += 1) name += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return name;
}
