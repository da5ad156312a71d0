// Raw parameterised SQL over the TypeORM DataSource: core's hot paths are a few
// hand-written statements, so a thin `rows()` helper beats entities here. A
// QueryRunner holds the pooled connection (and the transaction); each statement
// runs on its pg client as a named prepared statement (prepared-statements.ts),
// which returns the rows of SELECT and of UPDATE/INSERT ... RETURNING alike.
import type pg from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { noteStatementError, statementName } from './prepared-statements.js';

export interface Sql {
  /** Runs one statement with $1.. parameters and returns its rows (RETURNING rows for writes). */
  rows<T>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

function sqlOf(runner: QueryRunner): Sql {
  return {
    async rows<T>(text: string, params: readonly unknown[] = []) {
      // TypeORM's query() refused a released runner; connect() would hand back a
      // connection already returned to the pool, perhaps inside another's transaction.
      if (runner.isReleased) throw new Error('This SQL handle was used after its connection was released.');
      // The runner's own connection: the one its transaction, if any, runs on.
      const client = (await runner.connect()) as pg.PoolClient;
      const name = statementName(text);
      try {
        // pg only reads the values (serialising them as it writes): no copy per statement.
        const result = await client.query({ name, text, values: params as unknown[] });
        return result.rows as T[];
      } catch (error) {
        if (name !== undefined) noteStatementError(text, error);
        throw error;
      }
    },
  };
}

/** Runs `work` on one pooled connection outside any explicit transaction. */
export async function withConnection<T>(database: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  const runner = database.createQueryRunner();
  try {
    return await work(sqlOf(runner));
  } finally {
    await runner.release();
  }
}

/**
 * Runs `work` in one READ COMMITTED transaction: committed when it resolves,
 * rolled back when it throws (and the error rethrown).
 */
export async function inTransaction<T>(database: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  const runner = database.createQueryRunner();
  try {
    await runner.startTransaction();
    let result: T;
    try {
      result = await work(sqlOf(runner));
    } catch (error) {
      // A failed rollback means the connection is broken; the original error is the story.
      await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    }
    await runner.commitTransaction();
    return result;
  } finally {
    await runner.release();
  }
}

/**
 * The rows of a statement over `unnest(...) WITH ORDINALITY AS t(..., ord)` put
 * back at their input's positions (ord 1 at index 0), mapped; a position the
 * statement returned no row for stays undefined.
 */
export function byOrdinal<Row extends { ord: number }, T>(rows: readonly Row[], count: number, map: (row: Row) => T): Array<T | undefined> {
  const placed: Array<T | undefined> = new Array<T | undefined>(count).fill(undefined);
  for (const row of rows) placed[row.ord - 1] = map(row);
  return placed;
}

/** True when `error` is PostgreSQL's unique violation (23505), optionally of one named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e?.code ?? e?.driverError?.code;
  const name = e?.constraint ?? e?.driverError?.constraint;
  return code === '23505' && (constraint === undefined || name === constraint);
}
