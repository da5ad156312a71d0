// Sealed phone numbers in the database: a sealed value copied into another row
// does not open there, the re-encryption command moves every row to a new key
// while lookups keep working, and old keys keep opening until it has run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import { FieldDecryptionError, type ConfigSource } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { ContactSealing } from '../src/protection/contact-sealing.js';
import { fieldProtectionFrom } from '../src/protection/field-protection.js';
import { reencryptContacts } from '../src/protection/reencrypt.js';
import { queryDb, startAuth } from './auth-harness.js';
import { newKey, smsConfig, startSmsInbox, type SmsInbox } from './sms-harness.js';

const { SMS_CODE_PURPOSE_REGISTER: REGISTER, SMS_CODE_PURPOSE_LOGIN: LOGIN } = authV1.SmsCodePurpose;
const PHONES = Array.from({ length: 7 }, (_, i) => `+4917012345${String(i).padStart(2, '0')}`);

interface ContactRow {
  id: string;
  user_id: string;
  value_sealed: Buffer;
  key_id: string;
}

describe('field protection of phone numbers', () => {
  let db: TestDatabase;
  let inbox: SmsInbox;
  const oldKey = `2025:${newKey()}`;
  const newKeyEntry = `2026:${newKey()}`;
  const blindIndexKey = newKey();
  const keysBefore = { fieldKeys: oldKey, current: '2025', blindIndexKey };
  const keysAfter = { fieldKeys: `${oldKey},${newKeyEntry}`, current: '2026', blindIndexKey };
  const userOf = new Map<string, string>();

  const configWith = (keys: typeof keysBefore): ConfigSource => ({ ...smsConfig(inbox, keys), AUTH_SMS_LIMIT_PER_NUMBER: '100/60' });
  const rows = () => queryDb<ContactRow>(db.url, `SELECT id, user_id, value_sealed, key_id FROM auth.user_contacts ORDER BY created_at, id`);
  const sealingWith = (keys: typeof keysBefore) =>
    new ContactSealing(fieldProtectionFrom({ AUTH_FIELD_KEYS: keys.fieldKeys, AUTH_FIELD_KEY_CURRENT: keys.current, AUTH_BLIND_INDEX_KEY: keys.blindIndexKey })!);
  const toRow = (row: ContactRow) => ({ id: row.id, sealed: row.value_sealed });

  /** Logs in with a fresh code against an auth started with `keys`; returns the user id. */
  const loginWithCode = async (keys: typeof keysBefore, phone: string) => {
    const running = await startAuth(db.url, configWith(keys));
    try {
      const since = inbox.received.length;
      await running.auth.sendSmsCode({ phoneNumber: phone, purpose: LOGIN });
      const code = await inbox.nextCode(phone, since);
      return (await running.auth.loginWithSmsCode({ phoneNumber: phone, code, deviceId: 'd', devicePlatform: '' })).userId;
    } finally {
      await running.close();
    }
  };

  before(async () => {
    db = await createTestDatabase('auth_fields');
    inbox = await startSmsInbox();
    const running = await startAuth(db.url, configWith(keysBefore));
    try {
      for (const phone of PHONES) {
        const since = inbox.received.length;
        await running.auth.sendSmsCode({ phoneNumber: phone, purpose: REGISTER });
        const code = await inbox.nextCode(phone, since);
        const { userId } = await running.auth.registerWithSmsCode({ phoneNumber: phone, code, username: '', displayName: '', deviceId: 'd', devicePlatform: '' });
        userOf.set(phone, userId);
      }
    } finally {
      await running.close();
    }
  });
  after(async () => {
    await inbox?.close();
    await db?.drop();
  });

  test('each row opens to its own number, and a sealed value copied into another row does not open', async () => {
    const sealing = sealingWith(keysBefore);
    const stored = await rows();
    assert.equal(stored.length, PHONES.length);
    assert.deepEqual(stored.map((row) => sealing.open(toRow(row))).sort(), [...PHONES].sort());

    const [victim, attacker] = stored;
    await queryDb(db.url, `UPDATE auth.user_contacts SET value_sealed = $1 WHERE id = $2`, [victim!.value_sealed, attacker!.id]);
    const [copied] = await queryDb<ContactRow>(db.url, `SELECT id, user_id, value_sealed, key_id FROM auth.user_contacts WHERE id = $1`, [attacker!.id]);
    assert.throws(() => sealing.open(toRow(copied!)), FieldDecryptionError);
    // Put it back for the tests below.
    await queryDb(db.url, `UPDATE auth.user_contacts SET value_sealed = $1 WHERE id = $2`, [attacker!.value_sealed, attacker!.id]);
  });

  test('a number is found by its blind index (login with a code reaches the right account)', async () => {
    assert.equal(await loginWithCode(keysBefore, PHONES[2]!), userOf.get(PHONES[2]!));
  });

  test('after adding a key and re-encrypting, every row is on the new key, opens, and lookups still work', async () => {
    // Auth restarted with the new current key still opens and finds old rows.
    assert.equal(await loginWithCode(keysAfter, PHONES[3]!), userOf.get(PHONES[3]!));

    const source = {
      DATABASE_URL: db.url,
      AUTH_FIELD_KEYS: keysAfter.fieldKeys,
      AUTH_FIELD_KEY_CURRENT: keysAfter.current,
      AUTH_BLIND_INDEX_KEY: blindIndexKey,
      LOG_LEVEL: 'silent',
    };
    const report = await reencryptContacts(source, 3);
    assert.equal(report.resealed, PHONES.length, 'in batches of 3: 3 + 3 + 1');
    assert.deepEqual(Object.fromEntries(report.byKey), { '2026': PHONES.length });
    assert.deepEqual(report.unreadable, []);
    assert.equal((await reencryptContacts(source, 3)).resealed, 0, 'a second run has nothing to do');

    // The old key can now be dropped from the configuration.
    const onlyNew = { fieldKeys: newKeyEntry, current: '2026', blindIndexKey };
    const sealing = sealingWith(onlyNew);
    assert.deepEqual((await rows()).map((row) => sealing.open(toRow(row))).sort(), [...PHONES].sort());
    assert.equal(await loginWithCode(onlyNew, PHONES[4]!), userOf.get(PHONES[4]!));
  });

  test('a row that does not open is reported by id and left alone; the command fails', async () => {
    const [first] = await rows();
    const tampered = Buffer.from(first!.value_sealed);
    tampered[tampered.length - 1]! ^= 0xff;
    await queryDb(db.url, `UPDATE auth.user_contacts SET value_sealed = $1, key_id = '2025' WHERE id = $2`, [tampered, first!.id]);
    const report = await reencryptContacts(
      { DATABASE_URL: db.url, AUTH_FIELD_KEYS: keysAfter.fieldKeys, AUTH_FIELD_KEY_CURRENT: '2026', AUTH_BLIND_INDEX_KEY: blindIndexKey, LOG_LEVEL: 'silent' },
      2,
    );
    assert.deepEqual(report.unreadable, [first!.id]);
    assert.equal(report.resealed, 0);
    const [still] = await queryDb<ContactRow>(db.url, `SELECT id, user_id, value_sealed, key_id FROM auth.user_contacts WHERE id = $1`, [first!.id]);
    assert.deepEqual(still!.value_sealed, tampered);
  });

  test('partial or malformed key configuration stops auth at start, naming the setting and hiding the keys', async () => {
    const secret = newKey();
    const cases: Array<[ConfigSource, RegExp]> = [
      [{ AUTH_FIELD_KEYS: `a:${secret}` }, /must be set together/],
      [{ AUTH_FIELD_KEYS: `a:${secret}`, AUTH_FIELD_KEY_CURRENT: 'b', AUTH_BLIND_INDEX_KEY: newKey() }, /current kid "b"/],
      [{ AUTH_FIELD_KEYS: `a:${secret}`, AUTH_FIELD_KEY_CURRENT: 'a', AUTH_BLIND_INDEX_KEY: 'c2hvcnQ=' }, /AUTH_BLIND_INDEX_KEY/],
      [{ AUTH_SMS_PROVIDER: 'console', AUTH_DEVELOPMENT_MODE: 'true' }, /AUTH_FIELD_KEYS: SMS codes need phone numbers/],
      [{ AUTH_SMS_PROVIDER: 'console', AUTH_FIELD_KEYS: `a:${secret}`, AUTH_FIELD_KEY_CURRENT: 'a', AUTH_BLIND_INDEX_KEY: newKey() }, /AUTH_DEVELOPMENT_MODE=true/],
    ];
    for (const [config, message] of cases) {
      const outcome = await startAuth(db.url, config).then(
        async (running) => {
          await running.close();
          return new Error('auth started');
        },
        (error: Error) => error,
      );
      assert.match(outcome.message, message, JSON.stringify(Object.keys(config)));
      assert.ok(!outcome.message.includes(secret), 'the key is not in the message');
    }
  });

  test('the database refuses a second account holding the same number (the blind index is unique)', async () => {
    const [a, b] = await rows();
    await assert.rejects(
      queryDb(db.url, `UPDATE auth.user_contacts SET blind_index = (SELECT blind_index FROM auth.user_contacts WHERE id = $1) WHERE id = $2`, [a!.id, b!.id]),
      /duplicate key value violates unique constraint/,
    );
  });
});
