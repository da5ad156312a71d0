// The SMS-code features of auth as one optional bundle: present when an SMS
// provider and field keys are configured, absent otherwise, in which case the
// SMS RPCs answer FAILED_PRECONDITION naming the setting.
import { authV1 } from '@im-mesh/contracts';
import { AppError } from '@im-mesh/platform';
import type { PasswordReset } from '../accounts/password-reset.js';
import type { PhoneRegistration } from '../accounts/phone-registration.js';
import type { SmsLogin } from '../login/sms-login.js';
import type { SmsCodes } from './sms-codes.js';
import type { SmsPurpose } from './sms-sender.js';

export interface SmsFeatures {
  codes: SmsCodes;
  registration: PhoneRegistration;
  login: SmsLogin;
  passwordReset: PasswordReset;
}

/** The features, or FAILED_PRECONDITION when this server has SMS turned off. */
export function requireSms(features: SmsFeatures | undefined): SmsFeatures {
  if (features) return features;
  throw AppError.failedPrecondition(
    'SMS codes are not enabled on this server (AUTH_SMS_PROVIDER is "disabled"). Use username and password.',
    'SMS_DISABLED',
  );
}

/** The purpose a request names; INVALID_ARGUMENT for UNSPECIFIED or an unknown number. */
export function smsPurposeOf(purpose: authV1.SmsCodePurpose): SmsPurpose {
  switch (purpose) {
    case authV1.SmsCodePurpose.SMS_CODE_PURPOSE_REGISTER:
      return 'register';
    case authV1.SmsCodePurpose.SMS_CODE_PURPOSE_LOGIN:
      return 'login';
    case authV1.SmsCodePurpose.SMS_CODE_PURPOSE_RESET_PASSWORD:
      return 'reset_password';
    default:
      throw AppError.invalidArgument('purpose must be SMS_CODE_PURPOSE_REGISTER, _LOGIN or _RESET_PASSWORD.', 'SMS_PURPOSE_INVALID');
  }
}
