// Sealed columns: a phone number sealed for one row opens only there, old keys
// still open after rotation, and the blind index finds equal values only.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { BlindIndex, FieldCipher, FieldDecryptionError, parseFieldKeys } from '@im-mesh/platform';

const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');
const row = (rowId: string) => ({ table: 'user_contacts', column: 'value_sealed', rowId });

describe('field cipher', () => {
  test('a value opens in its own row and nowhere else', () => {
    const cipher = new FieldCipher(parseFieldKeys(`2026a:${k1}`, '2026a'));
    const sealed = cipher.seal('+4915112345678', row('row-1'));
    assert.equal(cipher.open(sealed, row('row-1')), '+4915112345678');
    assert.ok(!sealed.includes(Buffer.from('4915112345678')), 'the number is not readable in the sealed bytes');
    assert.throws(() => cipher.open(sealed, row('row-2')), FieldDecryptionError, 'copied to another row');
    assert.throws(() => cipher.open(sealed, { ...row('row-1'), column: 'email_sealed' }), FieldDecryptionError, 'another column');
    assert.throws(() => cipher.open(sealed, { ...row('row-1'), table: 'users' }), FieldDecryptionError, 'another table');
  });

  test('two seals of one value differ (random IV), and a flipped bit or truncation is refused', () => {
    const cipher = new FieldCipher(parseFieldKeys(`a:${k1}`, 'a'));
    const one = cipher.seal('+15551234567', row('r'));
    const two = cipher.seal('+15551234567', row('r'));
    assert.notDeepEqual(one, two);
    for (let i = 0; i < one.length; i += 1) {
      const tampered = Buffer.from(one);
      tampered[i]! ^= 0x01;
      assert.throws(() => cipher.open(tampered, row('r')), FieldDecryptionError, `byte ${i} flipped`);
    }
    for (const length of [0, 1, 5, one.length - 1]) {
      assert.throws(() => cipher.open(one.subarray(0, length), row('r')), FieldDecryptionError, `cut to ${length}`);
    }
  });

  test('after the current key changes, old values still open and say they need rotation', () => {
    const before = new FieldCipher(parseFieldKeys(`old:${k1}`, 'old'));
    const sealedOld = before.seal('+33612345678', row('r'));
    const after = new FieldCipher(parseFieldKeys(`old:${k1},new:${k2}`, 'new'));
    assert.equal(after.open(sealedOld, row('r')), '+33612345678');
    assert.equal(after.needsRotation(sealedOld), true);
    const sealedNew = after.seal('+33612345678', row('r'));
    assert.equal(after.kidOf(sealedNew), 'new');
    assert.equal(after.needsRotation(sealedNew), false);
    const withoutOld = new FieldCipher(parseFieldKeys(`new:${k2}`, 'new'));
    assert.throws(() => withoutOld.open(sealedOld, row('r')), /key "old", which is not configured/);
  });

  test('key configuration errors name the problem without echoing key material', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['', 'a', /no keys/],
      [`a:${randomBytes(16).toString('base64')}`, 'a', /must be 32 bytes/],
      [`a:${k1},a:${k2}`, 'a', /appears twice/],
      [`a:${k1}`, 'b', /current kid "b"/],
      [`${k1}`, 'a', /kid:base64key/],
    ];
    for (const [spec, current, message] of cases) {
      assert.throws(() => parseFieldKeys(spec, current), (error: Error) => message.test(error.message) && !error.message.includes(k1.slice(0, 12)));
    }
  });

  test('the blind index is stable for equal input, differs per value, domain and key', () => {
    const key = randomBytes(32);
    const index = new BlindIndex(key);
    assert.deepEqual(index.of('phone', '+15551234567'), new BlindIndex(key).of('phone', '+15551234567'));
    assert.notDeepEqual(index.of('phone', '+15551234567'), index.of('phone', '+15551234568'));
    assert.notDeepEqual(index.of('phone', 'x'), index.of('email', 'x'));
    assert.notDeepEqual(index.of('phone', 'x'), new BlindIndex(randomBytes(32)).of('phone', 'x'));
    assert.equal(index.of('phone', 'x').length, 32);
    assert.notDeepEqual(index.deriveKey('sms code'), key);
    assert.throws(() => new BlindIndex(randomBytes(31)), /32 bytes/);
  });
});
