// Raw parameterised SQL over the TypeORM DataSource: core's hot paths are a few
// hand-written statements, so a thin `rows()` helper beats entities here. A
// QueryRunner holds the pooled connection (and the transaction); each statement
// runs on its pg client as a named prepared statement (prepared-statements.ts),
// which returns the rows of SELECT and of UPDATE/INSERT ... RETURNING alike.
import type pg from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { noteStatementError, statementName } from './prepared-statements.js';

export interface Sql {
  /**
   * Runs one statement with $1.. parameters and returns its rows (RETURNING rows
   * for writes). Statements run in the order they are issued; one issued without
   * waiting for it still finishes before its transaction commits (and fails the
   * transaction if it fails) or before its connection is released.
   */
  rows<T>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

/** An Sql on one connection that also keeps every statement it issued, to wait for them. */
interface TrackedSql extends Sql {
  /** Runs BEGIN, COMMIT or ROLLBACK (not prepared) and returns PostgreSQL's command tag. */
  control(command: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<string>;
  /** Resolves once every statement issued so far has finished, with the first one's error if any failed. */
  finished(): Promise<unknown>;
}

function sqlOf(runner: QueryRunner): TrackedSql {
  let connection: Promise<pg.PoolClient> | undefined;
  let issued: Array<Promise<unknown>> = [];
  const issue = <T>(statement: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    // TypeORM's query() refused a released runner; connect() would hand back a
    // connection already returned to the pool, perhaps inside another's transaction.
    if (runner.isReleased) return Promise.reject(new Error('This SQL handle was used after its connection was released.'));
    // Every statement is chained on the same promise of the runner's connection,
    // so each reaches pg in the order it was issued, and pg runs them in that order.
    connection ??= runner.connect() as Promise<pg.PoolClient>;
    const running = connection.then(statement);
    // Marked handled: whoever issued it sees its failure, and a transaction's COMMIT reports what nobody handled.
    running.catch(() => undefined);
    issued.push(running);
    return running;
  };
  return {
    rows<T>(text: string, params: readonly unknown[] = []) {
      return issue((client) => prepared<T>(client, text, params));
    },
    control(command) {
      return issue(async (client) => (await client.query(command)).command);
    },
    async finished() {
      const waiting = issued;
      issued = [];
      const outcomes = await Promise.allSettled(waiting);
      return outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')?.reason;
    },
  };
}

async function prepared<T>(client: pg.PoolClient, text: string, params: readonly unknown[]): Promise<T[]> {
  const name = statementName(text);
  try {
    // pg only reads the values (serialising them as it writes): no copy per statement.
    const result = await client.query({ name, text, values: params as unknown[] });
    return result.rows as T[];
  } catch (error) {
    if (name !== undefined) noteStatementError(text, error);
    throw error;
  }
}

/** Runs `work` on one pooled connection outside any explicit transaction. */
export async function withConnection<T>(database: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  const runner = database.createQueryRunner();
  const sql = sqlOf(runner);
  try {
    return await work(sql);
  } finally {
    // A statement issued without waiting finishes before the connection goes back to the pool.
    await sql.finished();
    await runner.release();
  }
}

/**
 * Runs `work` in one READ COMMITTED transaction: committed when it resolves,
 * rolled back when it throws (and the error rethrown).
 *
 * Neither BEGIN nor COMMIT costs a turn of the event loop of its own. The
 * pool's connections pipeline (platform's openDatabase): a statement issued
 * while one is running goes to PostgreSQL at once. So BEGIN is sent without
 * waiting for its reply, the work's first statement right behind it, and COMMIT
 * as soon as the work resolves, behind any statement it issued without waiting
 * (the relay deletes its published rows that way). Under load a turn took
 * 70-100 ms, and a relay pass spent most of its time in them (bench/RESULTS.md).
 * A transaction that a failed statement aborted (and no ROLLBACK TO SAVEPOINT
 * mended) is rolled back by PostgreSQL at that COMMIT, which says so: that
 * statement's error is thrown.
 */
export async function inTransaction<T>(database: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  const runner = database.createQueryRunner();
  const sql = sqlOf(runner);
  try {
    void sql.control('BEGIN');
    let result: T;
    try {
      result = await work(sql);
    } catch (error) {
      await sql.finished();
      // A failed rollback means the connection is broken; the original error is the story.
      await sql.control('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const committed = await sql.control('COMMIT').catch(async (error: unknown) => {
      // The first failure is the cause (BEGIN's, or a statement's on a broken connection); COMMIT's is its echo.
      throw (await sql.finished()) ?? error;
    });
    if (committed !== 'COMMIT') {
      throw (await sql.finished()) ?? new Error(`The transaction was rolled back: COMMIT answered ${committed}.`);
    }
    return result;
  } finally {
    await sql.finished();
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
