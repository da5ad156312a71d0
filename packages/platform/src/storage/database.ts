// One TypeORM DataSource per service, each in its own PostgreSQL schema, so that
// no service reads another's tables even when they share a database. Migrations
// are real migration classes run at start, serialized across instances by an
// advisory lock; `synchronize` is never used. Every connection carries timeouts,
// so a stalled PostgreSQL fails calls instead of hanging them.
import { DataSource, MigrationExecutor, type MigrationInterface } from 'typeorm';
import pg from 'pg';
import type { Logger } from 'pino';

export interface DatabaseOptions {
  url: string;
  /** The service's schema, e.g. "core". */
  schema: string;
  migrations: Array<new () => MigrationInterface>;
  /** Connections in the pool. 10 by default. */
  poolSize?: number;
  logger: Logger;
  /** Give up opening a connection after this long. 5 s by default; 0 waits forever. */
  connectTimeoutMs?: number;
  /**
   * When every pooled connection is busy, wait this long for one to come free
   * before failing the call. 10 s by default (the SDK's call deadline); 0 waits
   * forever. Apart from connectTimeoutMs: a burst of calls queueing for the pool
   * is not an outage, and failing it after the connect timeout sent clients back
   * to retry into the same burst (bench/RESULTS.md, reconnect-storm).
   */
  acquireTimeoutMs?: number;
  /** PostgreSQL cancels a statement running longer. 30 s by default; 0 for none. Migrations are exempt. */
  statementTimeoutMs?: number;
  /** PostgreSQL ends a session idle inside a transaction this long. 60 s by default; 0 for none. */
  idleInTransactionTimeoutMs?: number;
  /**
   * Run the migrations at open. True by default; false for a second pool of a
   * service whose main pool already migrated (a bulkhead for one kind of work).
   */
  runMigrations?: boolean;
  /** Shown in pg_stat_activity; `im-<schema>` by default. */
  applicationName?: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_ACQUIRE_TIMEOUT_MS = 10_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

// int8 (bigint) arrives as a string by default; seqs and counters fit in 2^53,
// so parse them as numbers and fail loudly if one ever does not.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${value} exceeds 2^53`);
  return n;
});

export async function openDatabase(options: DatabaseOptions): Promise<DataSource> {
  if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`bad schema name ${options.schema}`);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const idleInTransactionTimeoutMs = options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  const acquireTimeoutMs = options.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
  for (const value of [connectTimeoutMs, statementTimeoutMs, idleInTransactionTimeoutMs, acquireTimeoutMs]) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`bad database timeout ${value}`);
  }
  await ensureSchema(options.url, options.schema, connectTimeoutMs);
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: {
      max: options.poolSize ?? 10,
      // A statement issued while the connection is busy goes to PostgreSQL at
      // once instead of waiting for the reply to the one before (pg's opt-in
      // pipelining: each statement still gets its own result or error, in
      // order). Core sends BEGIN, COMMIT and a relay pass's DELETE that way
      // without waiting a turn of the event loop for each (core/src/storage/sql.ts).
      // pg's older query queue did the same one round trip at a time and is
      // deprecated; no code here opens a cursor, which pipelining refuses.
      pipeline: true,
      // pg-pool applies one setting both to waiting for a free connection and to
      // opening one; the pool gets the wait, and each client opens with its own.
      connectionTimeoutMillis: acquireTimeoutMs,
      Client: clientOpeningWithin(connectTimeoutMs),
      // Every connection of this pool sees only its own schema first, and has the
      // timeouts from its first statement on (session settings given at startup).
      options: [
        `-c search_path=${options.schema}`,
        `-c statement_timeout=${statementTimeoutMs}`,
        `-c idle_in_transaction_session_timeout=${idleInTransactionTimeoutMs}`,
      ].join(' '),
      application_name: options.applicationName ?? `im-${options.schema}`,
    },
  });
  await dataSource.initialize();
  if (options.runMigrations ?? true) await runMigrationsExclusively(dataSource, options.schema, options.logger);
  return dataSource;
}

/** A pg.Client whose connect gives up after `connectTimeoutMs`, whatever the pool was told. */
function clientOpeningWithin(connectTimeoutMs: number): typeof pg.Client {
  return class ClientOpeningWithin extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super({ ...(typeof config === 'string' ? { connectionString: config } : config), connectionTimeoutMillis: connectTimeoutMs });
    }
  };
}

async function ensureSchema(url: string, schema: string, connectTimeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (error) {
    // Two instances racing on CREATE SCHEMA IF NOT EXISTS can still collide on the
    // catalog's unique index; the schema exists either way.
    if ((error as { code?: string }).code !== '23505') throw error;
  } finally {
    await client.end();
  }
}

async function runMigrationsExclusively(dataSource: DataSource, schema: string, logger: Logger): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    // Waiting for another instance's migrations, and a migration rewriting a big
    // table, may both take longer than the statement timeout: lift it on this
    // connection only, run the migrations on it, and restore it before release.
    await runner.query('SET statement_timeout = 0');
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`im-migrations:${schema}`]);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    const applied = await executor.executePendingMigrations();
    for (const migration of applied) logger.info({ schema, migration: migration.name }, 'migration applied');
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [`im-migrations:${schema}`]).catch(() => undefined);
    await runner.query('RESET statement_timeout').catch(() => undefined);
    await runner.release();
  }
}
