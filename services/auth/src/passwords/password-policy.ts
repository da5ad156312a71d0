// What a new password must be, following OWASP ASVS 5.0 V6: 8 to 128
// characters (so 64 always fit), any characters, no composition rules, and not
// one of the passwords attackers try first. The list is zxcvbn's "passwords-common"
// (about 49,000 leaked passwords, most frequent first), compared case-insensitively,
// because "Password1" is guessed as early as "password1". The username itself,
// in any case, is refused too.
import { AppError } from '@im-mesh/platform';
import { dictionary } from '@zxcvbn-ts/language-common';
import { PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS } from '../accounts/account-rules.js';

let commonPasswords: ReadonlySet<string> | undefined;

/** Built on first use (a few ms) and kept: the list never changes while running. */
function common(): ReadonlySet<string> {
  commonPasswords ??= new Set((dictionary['passwords-common'] as string[]).map((entry) => entry.toLowerCase()));
  return commonPasswords;
}

/** Length in Unicode code points, as a person counts characters. */
const charCount = (value: string) => [...value].length;

/** Returns `password` when it may be set for `username`; INVALID_ARGUMENT naming the rule otherwise. */
export function checkNewPassword(password: string, username: string): string {
  const chars = charCount(password);
  if (chars < PASSWORD_MIN_CHARS || chars > PASSWORD_MAX_CHARS) {
    throw AppError.invalidArgument(
      `password must be ${PASSWORD_MIN_CHARS} to ${PASSWORD_MAX_CHARS} characters long; any characters are allowed, and a long passphrase is best.`,
      'PASSWORD_LENGTH',
    );
  }
  const folded = password.toLowerCase();
  if (folded === username.toLowerCase()) {
    throw AppError.invalidArgument('password must not be the username. Choose a passphrase only you would think of.', 'PASSWORD_IS_USERNAME');
  }
  if (common().has(folded)) {
    throw AppError.invalidArgument(
      'password is one of the most common passwords, which attackers try first. Choose a passphrase only you would think of.',
      'PASSWORD_TOO_COMMON',
    );
  }
  return password;
}
