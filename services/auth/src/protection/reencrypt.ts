// Command: re-encrypt every sealed contact under the current field key.
//   DATABASE_URL=postgres://... AUTH_FIELD_KEYS=... AUTH_FIELD_KEY_CURRENT=... \
//   AUTH_BLIND_INDEX_KEY=... node --import tsx services/auth/src/protection/reencrypt.ts [--batch-size 500]
// Runs auth's pending migrations first (like the service), prints one JSON
// summary line per batch and a final count of rows per key id, and exits 1
// when some rows did not open (they are listed by id, never by value).
import { parseArgs } from 'node:util';
import { ConfigError, createLogger, env, loadConfig, openDatabase } from '@im-mesh/platform';
import { ContactStore } from '../storage/contact-store.js';
import { authMigrations } from '../storage/migrations/index.js';
import { ContactSealing } from './contact-sealing.js';
import { rotateContacts, type RotationReport } from './contact-rotation.js';
import { fieldProtectionConfigShape, fieldProtectionFrom } from './field-protection.js';

export async function reencryptContacts(source: Record<string, string | undefined>, batchSize: number): Promise<RotationReport> {
  const config = loadConfig({ ...fieldProtectionConfigShape, DATABASE_URL: env.optionalString(), LOG_LEVEL: env.logLevel() }, source);
  const protection = fieldProtectionFrom(config);
  if (!protection) throw new ConfigError('Invalid configuration:\n  AUTH_FIELD_KEYS, AUTH_FIELD_KEY_CURRENT and AUTH_BLIND_INDEX_KEY are required to re-encrypt');
  if (!config.DATABASE_URL) throw new ConfigError('Invalid configuration:\n  DATABASE_URL: required (the auth database)');
  const logger = createLogger({ service: 'auth-reencrypt', level: config.LOG_LEVEL });
  const db = await openDatabase({ url: config.DATABASE_URL, schema: 'auth', migrations: authMigrations, logger });
  try {
    return await rotateContacts(new ContactStore(db), new ContactSealing(protection), {
      currentKeyId: protection.cipher.currentKid,
      batchSize,
      logger,
    });
  } finally {
    await db.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { 'batch-size': { type: 'string', default: '500' } } });
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    console.error('--batch-size must be a whole number from 1 to 10000');
    process.exit(2);
  }
  try {
    const report = await reencryptContacts(process.env, batchSize);
    console.log(JSON.stringify({ resealed: report.resealed, unreadable: report.unreadable, byKey: Object.fromEntries(report.byKey) }));
    process.exit(report.unreadable.length > 0 ? 1 : 0);
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(2);
  }
}
