// openDatabase against the local PostgreSQL: every pooled connection carries a
// statement timeout, an idle-in-transaction timeout and the service's search_path,
// a database that never answers fails the start instead of hanging it, and a call
// waiting for a busy pool waits its own acquire timeout, not the connect timeout.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createLogger, isDatabaseBusy, openDatabase } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';

const logger = createLogger({ service: 'database-test', level: 'silent' });

class SlowMigration1700000000000 implements MigrationInterface {
  name = 'SlowMigration1700000000000';
  async up(runner: QueryRunner): Promise<void> {
    // Longer than the statement timeout the test sets: migrations are exempt.
    await runner.query('SELECT pg_sleep(0.6)');
    await runner.query('CREATE TABLE inbox_marker (id int PRIMARY KEY)');
  }
  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE inbox_marker');
  }
}

let database: TestDatabase;
const open: DataSource[] = [];

before(async () => {
  database = await createTestDatabase('timeouts');
});

after(async () => {
  for (const dataSource of open) await dataSource.destroy();
  await database.drop();
});

async function setting(dataSource: DataSource, name: string): Promise<string> {
  const rows = (await dataSource.query(`SHOW ${name}`)) as Array<Record<string, string>>;
  return rows[0]![name]!;
}

describe('openDatabase timeouts', () => {
  test('pooled connections get 30 s statement and 60 s idle-in-transaction timeouts and the service schema', async () => {
    const dataSource = await openDatabase({ url: database.url, schema: 'inbox', migrations: [], logger });
    open.push(dataSource);
    assert.equal(await setting(dataSource, 'statement_timeout'), '30s');
    assert.equal(await setting(dataSource, 'idle_in_transaction_session_timeout'), '1min');
    assert.equal(await setting(dataSource, 'search_path'), 'inbox');
  });

  test('a query running past statementTimeoutMs is cancelled; a slower migration still applies', async () => {
    const dataSource = await openDatabase({
      url: database.url,
      schema: 'outbox',
      migrations: [SlowMigration1700000000000],
      logger,
      statementTimeoutMs: 200,
      idleInTransactionTimeoutMs: 5_000,
    });
    open.push(dataSource);
    assert.deepEqual(await dataSource.query('SELECT count(*)::int AS n FROM inbox_marker'), [{ n: 0 }]);
    assert.equal(await setting(dataSource, 'idle_in_transaction_session_timeout'), '5s');
    const started = Date.now();
    await assert.rejects(dataSource.query('SELECT pg_sleep(5)'), /statement timeout/);
    assert.ok(Date.now() - started < 3_000, 'the slow query was not cancelled in time');
    // Every connection of the pool has the timeout, including the one that ran
    // the migration (its exemption was for the migration only).
    const sleeps = Array.from({ length: 10 }, () => dataSource.query('SELECT pg_sleep(1)'));
    const results = await Promise.allSettled(sleeps);
    assert.ok(results.every((result) => result.status === 'rejected'), 'a pooled connection had no statement timeout');
  });

  test('a database server that accepts connections but never answers fails the start within the connect timeout', { timeout: 10_000 }, async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    assert.ok(address && typeof address === 'object');
    try {
      const started = Date.now();
      await assert.rejects(
        openDatabase({
          url: `postgres://postgres@127.0.0.1:${address.port}/im`,
          schema: 'inbox',
          migrations: [],
          logger,
          connectTimeoutMs: 300,
        }),
        /timeout/i,
      );
      assert.ok(Date.now() - started < 5_000, 'the start hung on the silent server');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('with every pooled connection busy, a call waits past the connect timeout for one to come free; beyond acquireTimeoutMs it fails as busy', async () => {
    const patient = await openDatabase({ url: database.url, schema: 'inbox', migrations: [], logger, poolSize: 1, connectTimeoutMs: 300, acquireTimeoutMs: 5_000 });
    open.push(patient);
    const holding = patient.query('SELECT pg_sleep(1)');
    const started = Date.now();
    const rows = (await patient.query('SELECT 1 AS one')) as Array<{ one: number }>;
    await holding;
    assert.equal(rows[0]!.one, 1);
    assert.ok(Date.now() - started >= 600, 'the second query waited for the only connection');

    const hurried = await openDatabase({ url: database.url, schema: 'inbox', migrations: [], logger, poolSize: 1, connectTimeoutMs: 5_000, acquireTimeoutMs: 200 });
    open.push(hurried);
    const held = hurried.query('SELECT pg_sleep(1)');
    const refused = await hurried.query('SELECT 1').then(
      () => assert.fail('the query got a connection that was held'),
      (error: unknown) => error,
    );
    await held;
    assert.ok(isDatabaseBusy(refused), `a busy pool, not an outage: ${String(refused)}`);
  });
});
