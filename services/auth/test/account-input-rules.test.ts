// New-password rules (ASVS 5.0 V6) and phone-number normalisation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countryCallingCode, maskPhoneNumber, normalisePhoneNumber } from '../src/accounts/phone-number.js';
import { checkNewPassword } from '../src/passwords/password-policy.js';

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { reason?: string }).reason;
  }
  return 'accepted';
};

describe('new passwords', () => {
  test('8 to 128 characters of anything, counted as a person counts them, with no composition rules', () => {
    assert.equal(reasonOf(() => checkNewPassword('a'.repeat(7), 'alice')), 'PASSWORD_LENGTH');
    assert.equal(reasonOf(() => checkNewPassword('lowercase only words', 'alice')), 'accepted');
    assert.equal(reasonOf(() => checkNewPassword('🐢'.repeat(8), 'alice')), 'accepted', 'eight emoji are eight characters');
    assert.equal(reasonOf(() => checkNewPassword('x'.repeat(64) + ' ' + 'y'.repeat(63), 'alice')), 'accepted', '128 allowed');
    assert.equal(reasonOf(() => checkNewPassword('z'.repeat(129), 'alice')), 'PASSWORD_LENGTH');
  });

  test('common passwords are refused in any letter case', () => {
    for (const common of ['password', 'PASSWORD', 'Password1', '12345678', 'qwertyuiop', 'iloveyou']) {
      assert.equal(reasonOf(() => checkNewPassword(common, 'alice')), 'PASSWORD_TOO_COMMON', common);
    }
  });

  test('the username itself is refused, in any letter case', () => {
    assert.equal(reasonOf(() => checkNewPassword('AliceWonder', 'alicewonder')), 'PASSWORD_IS_USERNAME');
  });
});

describe('phone numbers', () => {
  test('are normalised to E.164 from how people type them', () => {
    assert.equal(normalisePhoneNumber('+49 151 1234-5678'), '+4915112345678');
    assert.equal(normalisePhoneNumber('+1 (555) 123.4567'), '+15551234567');
  });

  test('anything else is INVALID_ARGUMENT naming the field', () => {
    for (const bad of ['015112345678', '+0151123456', '+1234567', '+1234567890123456', '+49 151 abc', '', '+', '+49\u0000151123456', '1'.repeat(10_000)]) {
      assert.throws(() => normalisePhoneNumber(bad), (error: Error & { reason?: string }) => error.reason === 'PHONE_NUMBER_INVALID' && /phone_number/.test(error.message), JSON.stringify(bad.slice(0, 20)));
    }
  });

  test('country calling codes have one to three digits', () => {
    assert.equal(countryCallingCode('+15551234567'), '1');
    assert.equal(countryCallingCode('+79161234567'), '7');
    assert.equal(countryCallingCode('+4915112345678'), '49');
    assert.equal(countryCallingCode('+353871234567'), '353');
    assert.equal(countryCallingCode('+8613812345678'), '86');
  });

  test('masking keeps the country and the last two digits', () => {
    assert.equal(maskPhoneNumber('+4915112345678'), '+49*********78');
  });
});
