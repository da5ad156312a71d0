// Operator command: puts dead-lettered outbox rows back into the outbox, so the
// running relays push their messages again.
//
//   DATABASE_URL=postgres://user:pass@host:5432/im \
//     node --import tsx services/core/src/outbox/requeue-dead.ts [--list] [message-id ...]
//
// A row is dead-lettered after CORE_OUTBOX_MAX_ATTEMPTS failed pushes; core logs
// one error line for it ("outbox row dead-lettered: ...", with the message id,
// conversation, attempts and last error) and counts core_outbox_dead_total. The
// message itself is stored and clients get it by sync; only its live pushes were
// abandoned. Fix the cause first (broker, presence, a bad stored message), then:
//
//   (no arguments)   requeue every dead row
//   message-id ...   requeue the dead rows of these messages only
//   --list           print the dead rows (id, conversation, seq, attempts,
//                    dead since, last error) and change nothing
//
// A requeued row keeps its place in its conversation's order, starts a fresh
// attempt budget and is due at once; relays are woken by NOTIFY core_outbox, so
// no core needs restarting. Running it while no row is dead does nothing.
// DATABASE_URL is the one core uses (for the all-in-one: the embedded cluster
// while it runs, port in its "embedded PostgreSQL ready" log line, password in
// var/postgres.secret, user postgres, database im).
// Exit status: 0 done; 1 a named message had no dead row, or the database
// failed; 2 bad usage.
import { createLogger, isUuid, openDatabase } from '@im-mesh/platform';
import { coreMigrations } from '../storage/migrations/index.js';
import { OutboxStore, type DeadOutboxRow } from '../storage/outbox-store.js';

const USAGE = 'usage: DATABASE_URL=postgres://... node --import tsx services/core/src/outbox/requeue-dead.ts [--list] [message-id ...]';

function describeRow(row: DeadOutboxRow): string {
  return (
    `message ${row.message_id}  conversation ${row.conversation_id}  seq ${row.seq}  ` +
    `attempts ${row.attempts}  dead since ${row.dead_at.toISOString()}  last error: ${row.last_error ?? '(none)'}`
  );
}

async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const list = args.includes('--list');
  // PostgreSQL prints uuids in lowercase; accept them pasted in any case.
  const messageIds = args.filter((arg) => arg !== '--list').map((arg) => arg.toLowerCase());
  const bad = messageIds.filter((id) => id.startsWith('-') || !isUuid(id));
  if (bad.length > 0) {
    console.error(`not a message id: ${bad.join(', ')}\n${USAGE}`);
    return 2;
  }
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(`DATABASE_URL is not set: it must name core's database.\n${USAGE}`);
    return 2;
  }

  // Log lines (migrations, connection trouble) go to stderr; stdout is the report.
  const logger = createLogger({ service: 'core-requeue-dead', level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr });
  const database = await openDatabase({ url, schema: 'core', migrations: coreMigrations, logger, poolSize: 1 });
  try {
    const store = new OutboxStore(database);
    const filter = messageIds.length > 0 ? messageIds : undefined;
    const rows = list ? await store.listDead(filter) : await store.requeueDead(filter);
    if (rows.length === 0) console.log(filter ? 'none of these messages has a dead outbox row' : 'no dead outbox rows');
    for (const row of rows) console.log(`${list ? 'dead' : 'requeued'}: ${describeRow(row)}`);
    if (!list && rows.length > 0) console.log(`${rows.length} row(s) back in the outbox; the relays push them now`);
    const found = new Set(rows.map((row) => row.message_id));
    const missing = messageIds.filter((id) => !found.has(id));
    if (missing.length > 0 && rows.length > 0) console.log(`no dead row for: ${missing.join(', ')}`);
    return missing.length > 0 ? 1 : 0;
  } finally {
    await database.destroy();
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  console.error(`requeue failed, no row was requeued: ${(error as Error).message}`);
  process.exitCode = 1;
}
