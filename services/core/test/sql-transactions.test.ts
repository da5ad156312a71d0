// inTransaction sends BEGIN without waiting for its reply and COMMIT right
// behind the work's last statement, which the work may issue without waiting
// for it (the relay deletes its published rows that way). These tests pin what
// that must not change: all or nothing, a failure nobody awaited still fails
// the transaction, a failure mended by ROLLBACK TO SAVEPOINT does not, and no
// statement is still running when its connection goes back to the pool.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { createLogger, openDatabase } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { coreMigrations } from '../src/storage/migrations/index.js';
import { inTransaction, withConnection } from '../src/storage/sql.js';

describe('transactions on one connection (real PostgreSQL)', () => {
  let db: TestDatabase;
  let database: DataSource;

  const notes = () => withConnection(database, (sql) => sql.rows<{ body: string }>('SELECT body FROM tx_notes ORDER BY body')).then((rows) => rows.map((row) => row.body));

  before(async () => {
    db = await createTestDatabase('core_sql_transactions');
    // One connection: a statement left running, or a transaction left open, would be met by the next call.
    database = await openDatabase({
      url: db.url,
      schema: 'core',
      migrations: coreMigrations,
      logger: createLogger({ service: 'test', level: 'silent' }),
      poolSize: 1,
    });
    await withConnection(database, (sql) => sql.rows('CREATE TABLE tx_notes (body text PRIMARY KEY)'));
  });

  after(async () => {
    await database?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await withConnection(database, (sql) => sql.rows('DELETE FROM tx_notes'));
  });

  test('statements issued without waiting commit with the transaction, in the order issued', async () => {
    const result = await inTransaction(database, async (sql) => {
      void sql.rows("INSERT INTO tx_notes VALUES ('a')");
      const counted = sql.rows<{ n: number }>('SELECT count(*)::int AS n FROM tx_notes');
      void sql.rows("INSERT INTO tx_notes VALUES ('b')");
      return counted;
    });
    assert.deepEqual(await result, [{ n: 1 }], 'the count ran after the first insert and before the second');
    assert.deepEqual(await notes(), ['a', 'b']);
  });

  test('a failed statement that nobody awaited fails the transaction with its own error, and nothing of it stays', async () => {
    await assert.rejects(
      inTransaction(database, async (sql) => {
        await sql.rows("INSERT INTO tx_notes VALUES ('kept?')");
        sql.rows("INSERT INTO tx_notes VALUES ('kept?')").catch(() => undefined);
      }),
      (error: { code?: string; constraint?: string }) => error.code === '23505' && error.constraint === 'tx_notes_pkey',
    );
    assert.deepEqual(await notes(), []);
    // The connection is clean: no transaction left open on it.
    await inTransaction(database, (sql) => sql.rows("INSERT INTO tx_notes VALUES ('after')"));
    assert.deepEqual(await notes(), ['after']);
  });

  test('a failure mended by ROLLBACK TO SAVEPOINT lets the rest commit', async () => {
    await inTransaction(database, async (sql) => {
      await sql.rows("INSERT INTO tx_notes VALUES ('first')");
      await sql.rows('SAVEPOINT one');
      await assert.rejects(sql.rows("INSERT INTO tx_notes VALUES ('first')"));
      await sql.rows('ROLLBACK TO SAVEPOINT one');
      await sql.rows("INSERT INTO tx_notes VALUES ('second')");
    });
    assert.deepEqual(await notes(), ['first', 'second']);
  });

  test('work that throws rolls back what it wrote, including a statement still running when it threw', async () => {
    await assert.rejects(
      inTransaction(database, async (sql) => {
        void sql.rows("INSERT INTO tx_notes SELECT 'slow' FROM pg_sleep(0.2)");
        throw new Error('changed its mind');
      }),
      /changed its mind/,
    );
    assert.deepEqual(await notes(), []);
  });

  test('withConnection returns its connection only after a statement issued without waiting has finished', async () => {
    let finished = false;
    await withConnection(database, async (sql) => {
      void sql.rows("INSERT INTO tx_notes SELECT 'late' FROM pg_sleep(0.2)").then(() => {
        finished = true;
      });
    });
    assert.equal(finished, true, 'the connection went back to the pool with a statement still running on it');
    assert.deepEqual(await notes(), ['late']);
  });
});
