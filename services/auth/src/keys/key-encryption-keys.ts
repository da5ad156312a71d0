// Where auth's key-encryption keys (KEKs) come from. Production sets
// AUTH_KEY_ENCRYPTION_KEYS (base64 of 32 bytes each, comma-separated, the sealing
// one first) from its secret store. Without it, auth keeps one generated KEK in
// AUTH_KEY_ENCRYPTION_KEY_FILE (created 0600 on first start, like the embedded
// PostgreSQL's data directory), so `npm start` works with no setup while the
// private keys in the database are still never stored in clear text.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@im-mesh/platform';
import { KEK_BYTES } from './secret-sealer.js';

export interface KeyEncryptionKeySettings {
  /** Base64 KEKs from AUTH_KEY_ENCRYPTION_KEYS; empty to use the file. */
  configured: readonly string[];
  /** AUTH_KEY_ENCRYPTION_KEY_FILE. */
  file: string;
  logger: Logger;
}

/** The KEKs to use, sealing one first. Throws with the setting's name when one is malformed. */
export async function loadKeyEncryptionKeys(settings: KeyEncryptionKeySettings): Promise<Buffer[]> {
  if (settings.configured.length > 0) {
    return settings.configured.map((text, index) => {
      const key = Buffer.from(text.trim(), 'base64');
      if (key.length !== KEK_BYTES) {
        throw new Error(`AUTH_KEY_ENCRYPTION_KEYS entry ${index + 1} must be base64 of ${KEK_BYTES} random bytes (openssl rand -base64 32)`);
      }
      return key;
    });
  }
  return [await keyFromFile(settings.file, settings.logger)];
}

async function keyFromFile(file: string, logger: Logger): Promise<Buffer> {
  try {
    return parseKeyFile(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(file), { recursive: true });
  // Written whole to a private temporary file, then linked into place: link fails
  // if another process got there first (its key wins), and nobody ever reads a
  // half-written file.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, `${randomBytes(KEK_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  try {
    await link(temporary, file);
    logger.warn({ file }, 'generated a key-encryption key file; set AUTH_KEY_ENCRYPTION_KEYS in production');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary);
  }
  return parseKeyFile(await readFile(file, 'utf8'), file);
}

function parseKeyFile(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEK_BYTES) throw new Error(`${file} must hold base64 of ${KEK_BYTES} bytes`);
  return key;
}
