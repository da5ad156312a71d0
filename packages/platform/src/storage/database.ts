// One TypeORM DataSource per service, each in its own PostgreSQL schema, so that
// no service reads another's tables even when they share a database. Migrations
// are real migration classes run at start, serialized across instances by an
// advisory lock; `synchronize` is never used.
import { DataSource, type MigrationInterface } from 'typeorm';
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
}

// int8 (bigint) arrives as a string by default; seqs and counters fit in 2^53,
// so parse them as numbers and fail loudly if one ever does not.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${value} exceeds 2^53`);
  return n;
});

export async function openDatabase(options: DatabaseOptions): Promise<DataSource> {
  if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`bad schema name ${options.schema}`);
  await ensureSchema(options.url, options.schema);
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
      // Every connection of this pool sees only its own schema first.
      options: `-c search_path=${options.schema}`,
      application_name: `im-${options.schema}`,
    },
  });
  await dataSource.initialize();
  await runMigrationsExclusively(dataSource, options.schema, options.logger);
  return dataSource;
}

async function ensureSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
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
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`im-migrations:${schema}`]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const migration of applied) logger.info({ schema, migration: migration.name }, 'migration applied');
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [`im-migrations:${schema}`]).catch(() => undefined);
    await runner.release();
  }
}
