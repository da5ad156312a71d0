// Phone numbers in E.164: "+", a country calling code and the subscriber
// number, 8 to 15 digits in all. Clients may send spaces, dashes, dots and
// brackets as people type them; everything is normalised to "+<digits>" before
// it is indexed, so one number has one blind index however it was typed.
import { AppError } from '@im-mesh/platform';

const SEPARATORS = /[\s\-.()]/g;
const E164 = /^\+[1-9][0-9]{7,14}$/;

/** "+49 151 1234-5678" -> "+4915112345678". INVALID_ARGUMENT when it is not E.164. */
export function normalisePhoneNumber(input: string): string {
  const compact = input.length <= 64 ? input.replace(SEPARATORS, '') : input;
  if (!E164.test(compact)) {
    throw AppError.invalidArgument(
      'phone_number must be in international E.164 form: "+", the country code and the number, 8 to 15 digits, e.g. "+4915112345678".',
      'PHONE_NUMBER_INVALID',
    );
  }
  return compact;
}

// ITU-T E.164 zones: 1 (NANP) and 7 are one digit; these two-digit codes are
// assigned; every other code is three digits. This is enough to group numbers by
// country for send limits without carrying a full numbering-plan database.
const TWO_DIGIT_CODES = new Set([
  '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84',
  '86', '90', '91', '92', '93', '94', '95', '98',
]);

/** The country calling code of a normalised number: "+4915..." -> "49", "+1555..." -> "1". */
export function countryCallingCode(e164: string): string {
  const digits = e164.slice(1);
  if (digits.startsWith('1') || digits.startsWith('7')) return digits.slice(0, 1);
  if (TWO_DIGIT_CODES.has(digits.slice(0, 2))) return digits.slice(0, 2);
  return digits.slice(0, 3);
}

/** "+4915112345678" -> "+49*********78": enough for a person to recognise, not to dial. */
export function maskPhoneNumber(e164: string): string {
  const code = countryCallingCode(e164);
  const rest = e164.slice(1 + code.length);
  return `+${code}${'*'.repeat(Math.max(rest.length - 2, 0))}${rest.slice(-2)}`;
}
