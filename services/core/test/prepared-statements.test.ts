// Core's statements run prepared: PostgreSQL parses each text once per
// connection and, after a few executions, reuses a generic plan instead of
// planning every call (the sync query spent 1.8 ms of its 2 ms planning). A
// statement whose row type a migration changed fails once and then runs
// unnamed; texts past the registry's bound run unnamed from the start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { createLogger, openDatabase } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { coreMigrations } from '../src/storage/migrations/index.js';
import { MAX_PREPARED_TEXTS } from '../src/storage/prepared-statements.js';
import { inTransaction, withConnection, type Sql } from '../src/storage/sql.js';

interface PreparedRow {
  name: string;
  statement: string;
  generic_plans: number;
  custom_plans: number;
}

const preparedOn = (sql: Sql) => sql.rows<PreparedRow>('SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements');

describe('prepared statements', () => {
  let db: TestDatabase;
  let database: DataSource;

  before(async () => {
    db = await createTestDatabase('core_prepared');
    // One connection, so every call below meets the statements the earlier ones prepared.
    database = await openDatabase({
      url: db.url,
      schema: 'core',
      migrations: coreMigrations,
      logger: createLogger({ service: 'test', level: 'silent' }),
      poolSize: 1,
    });
  });

  after(async () => {
    await database?.destroy();
    await db?.drop();
  });

  test('a statement is prepared once per connection and its plan is reused', async () => {
    const text = 'SELECT id, last_seq FROM conversations WHERE id = $1';
    await withConnection(database, (sql) => sql.rows('INSERT INTO conversations (id, type) VALUES ($1, 2), ($2, 2)', ['g:a', 'g:b']));
    for (let i = 0; i < 8; i += 1) {
      const id = i % 2 === 0 ? 'g:a' : 'g:b';
      const rows = await withConnection(database, (sql) => sql.rows<{ id: string; last_seq: number }>(text, [id]));
      assert.deepEqual(rows, [{ id, last_seq: 0 }]);
    }
    const [prepared] = (await withConnection(database, preparedOn)).filter((row) => row.statement === text);
    assert.ok(prepared, 'the statement is in the connection\'s pg_prepared_statements');
    assert.match(prepared.name, /^core_\d+$/);
    // Planned at most five times (custom plans), then the generic plan serves every call.
    assert.ok(prepared.generic_plans >= 3, `generic plans: ${prepared.generic_plans}, custom: ${prepared.custom_plans}`);
    assert.equal(prepared.generic_plans + prepared.custom_plans, 8);
  });

  test('statements in a transaction run prepared on its connection, and a rollback keeps them', async () => {
    await withConnection(database, (sql) => sql.rows('INSERT INTO conversations (id, type) VALUES ($1, 2)', ['g:counted']));
    const text = 'UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq';
    await assert.rejects(
      inTransaction(database, async (sql) => {
        assert.deepEqual(await sql.rows(text, ['g:counted']), [{ last_seq: 1 }]);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    const seq = await inTransaction(database, (sql) => sql.rows<{ last_seq: number }>(text, ['g:counted']));
    assert.deepEqual(seq, [{ last_seq: 1 }], 'the rolled-back increment is gone, the committed one stays');
    const prepared = (await withConnection(database, preparedOn)).filter((row) => row.statement === text);
    assert.equal(prepared.length, 1);
  });

  test('a migration that changes a row type fails the next call once, then the text runs unnamed', async () => {
    await withConnection(database, (sql) => sql.rows('CREATE TABLE widened (a int)'));
    await withConnection(database, (sql) => sql.rows('INSERT INTO widened VALUES (1)'));
    const text = 'SELECT * FROM widened';
    assert.deepEqual(await withConnection(database, (sql) => sql.rows(text)), [{ a: 1 }]);
    // What another instance's migration would do under this one.
    await withConnection(database, (sql) => sql.rows('ALTER TABLE widened ADD COLUMN b int DEFAULT 2'));
    // 0A000 from RevalidateCachedQuery: "cached plan must not change result type", in whatever language the server speaks.
    await assert.rejects(withConnection(database, (sql) => sql.rows(text)), (error: { code?: string; routine?: string }) => {
      assert.equal(error.code, '0A000');
      assert.equal(error.routine, 'RevalidateCachedQuery');
      return true;
    });
    assert.deepEqual(await withConnection(database, (sql) => sql.rows(text)), [{ a: 1, b: 2 }]);
    assert.deepEqual(await withConnection(database, (sql) => sql.rows(text)), [{ a: 1, b: 2 }]);
  });

  test('a handle used after its connection went back to the pool is refused, not run on whoever holds it now', async () => {
    let kept: Sql | undefined;
    await withConnection(database, async (sql) => {
      kept = sql;
    });
    await assert.rejects(kept!.rows('SELECT 1 AS one'), /used after its connection was released/);
  });

  // Last: it uses up the process's names, so statements of any test after it would run unnamed.
  test(`past ${MAX_PREPARED_TEXTS} distinct texts, new ones run unnamed and still answer`, async () => {
    const before = (await withConnection(database, preparedOn)).length;
    for (let i = 0; i < MAX_PREPARED_TEXTS + 20; i += 1) {
      const [row] = await withConnection(database, (sql) => sql.rows<{ n: number }>(`SELECT $1::int + ${i} AS n`, [1]));
      assert.equal(row?.n, i + 1);
    }
    const prepared = await withConnection(database, preparedOn);
    assert.ok(prepared.length <= MAX_PREPARED_TEXTS, `${prepared.length} statements prepared (${before} before)`);
    assert.ok(!prepared.some((row) => row.statement === `SELECT $1::int + ${MAX_PREPARED_TEXTS + 19} AS n`));
  });
});
