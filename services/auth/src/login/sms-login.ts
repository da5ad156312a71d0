// Login with an SMS code: the code (purpose "login") proves the caller holds
// the number, the blind index finds the account, and a session is opened.
// A wrong code, an unknown number and a disabled account all give Login's
// answer (LOGIN_FAILED), and the same limits as password logins apply, with the
// number (by its blind index) as the account key.
import { AppError, type Logger } from '@im-mesh/platform';
import { checkDeviceId, checkDevicePlatform } from '../accounts/account-rules.js';
import { normalisePhoneNumber } from '../accounts/phone-number.js';
import type { ContactSealing } from '../protection/contact-sealing.js';
import type { Sessions } from '../sessions/sessions.js';
import type { SmsCodes } from '../sms/sms-codes.js';
import type { ContactStore } from '../storage/contact-store.js';
import { LOGIN_FAILED, type LoginResult } from './login.js';
import type { LoginThrottle } from './login-throttle.js';

export interface SmsLoginRequest {
  phoneNumber: string;
  code: string;
  deviceId: string;
  devicePlatform: string;
  clientAddress: string;
}

export interface SmsLoginDeps {
  contacts: ContactStore;
  sealing: ContactSealing;
  codes: SmsCodes;
  sessions: Sessions;
  throttle: LoginThrottle;
  logger: Logger;
}

export class SmsLogin {
  constructor(private readonly deps: SmsLoginDeps) {}

  async login(request: SmsLoginRequest): Promise<LoginResult> {
    const deviceId = checkDeviceId(request.deviceId);
    const devicePlatform = checkDevicePlatform(request.devicePlatform);
    const phone = normalisePhoneNumber(request.phoneNumber);
    const index = this.deps.sealing.index('phone', phone);
    const account = `phone:${index.toString('base64url')}`;
    await this.deps.throttle.admit(account, request.clientAddress);

    const owner = await this.deps.throttle.counting(request.clientAddress, async () => {
      if (!(await this.deps.codes.verify(phone, 'login', request.code))) throw failed();
      const found = await this.deps.contacts.findOwner('phone', index);
      if (!found || found.disabled) throw failed();
      return found;
    });

    const session = await this.deps.sessions.open(owner.userId, deviceId, devicePlatform);
    await this.deps.throttle.succeeded(account, request.clientAddress);
    this.deps.logger.info({ userId: owner.userId, sessionId: session.sessionId, deviceId }, 'user logged in with an SMS code');
    return { userId: owner.userId, ...session };
  }
}

function failed(): AppError {
  return AppError.unauthenticated(LOGIN_FAILED, 'LOGIN_FAILED');
}
