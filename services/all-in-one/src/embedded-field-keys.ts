// The embedded mode's field-protection keys (AUTH_FIELD_KEYS, AUTH_FIELD_KEY_CURRENT,
// AUTH_BLIND_INDEX_KEY), generated on first start and kept beside the embedded
// database, so `npm start` can store phone numbers encrypted without any setup.
// They are read back on every later start: a new blind-index key would make every
// stored phone number unfindable. Distributed deployments set the keys themselves
// (from a secret store), and then this file is never made.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface FieldKeySettings {
  AUTH_FIELD_KEYS: string;
  AUTH_FIELD_KEY_CURRENT: string;
  AUTH_BLIND_INDEX_KEY: string;
}

const KEY_NAMES = ['AUTH_FIELD_KEYS', 'AUTH_FIELD_KEY_CURRENT', 'AUTH_BLIND_INDEX_KEY'] as const;

/**
 * The settings to lay under `source`: none when `source` sets any of the three
 * keys (the operator is in charge), else those in `file`, created (mode 0600)
 * the first time.
 */
export async function embeddedFieldKeys(file: string, source: Record<string, string | undefined>): Promise<Partial<FieldKeySettings>> {
  if (KEY_NAMES.some((name) => source[name] !== undefined)) return {};
  try {
    return parseKeyFile(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const kid = `embedded-${new Date().toISOString().slice(0, 10)}`;
  const created: FieldKeySettings = {
    AUTH_FIELD_KEYS: `${kid}:${randomBytes(32).toString('base64')}`,
    AUTH_FIELD_KEY_CURRENT: kid,
    AUTH_BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
  };
  await mkdir(dirname(file), { recursive: true });
  try {
    // 'wx': two processes starting on one folder must not each write their own keys.
    await writeFile(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    return created;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return parseKeyFile(await readFile(file, 'utf8'), file);
  }
}

function parseKeyFile(text: string, file: string): FieldKeySettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; restore it from a backup (phone numbers stored under its keys cannot be read without it)`);
  }
  const settings = parsed as Partial<Record<(typeof KEY_NAMES)[number], unknown>>;
  for (const name of KEY_NAMES) {
    if (typeof settings[name] !== 'string' || settings[name] === '') throw new Error(`${file} has no ${name}; restore it from a backup`);
  }
  return settings as FieldKeySettings;
}
