// A relay process cut short, for the claim tests: claims the due outbox rows
// exactly as the relay does (OutboxStore.claim), prints their message ids as one
// JSON line, then waits inside the claiming transaction until it is killed.
// DATABASE_URL names the test database.
import { createLogger, openDatabase } from '@im-mesh/platform';
import { coreMigrations } from '../../src/storage/migrations/index.js';
import { OutboxStore } from '../../src/storage/outbox-store.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is not set');
const logger = createLogger({ service: 'claim-and-hang', level: 'silent' });
const database = await openDatabase({ url, schema: 'core', migrations: coreMigrations, logger, poolSize: 1 });
await new OutboxStore(database).claim(100, async (batch) => {
  process.stdout.write(`${JSON.stringify(batch.rows.map((row) => row.message_id))}\n`);
  // The test kills this process; should it never do so, leave after a minute
  // without committing rather than linger.
  setTimeout(() => process.exit(3), 60_000);
  await new Promise<never>(() => undefined);
});
