// Raw, parameterised SQL over the service's TypeORM DataSource. TypeORM's plain
// `query()` returns different shapes for SELECT and UPDATE, so every statement here
// asks for the structured result and hands back its rows.
import type { DataSource, QueryRunner } from 'typeorm';

/** Runs one statement and returns its rows (RETURNING rows for writes). */
export type Sql = <Row>(text: string, params?: unknown[]) => Promise<Row[]>;

function sqlOn(runner: QueryRunner): Sql {
  return async <Row>(text: string, params: unknown[] = []) => {
    const result = await runner.query(text, params, true);
    return (result.records ?? []) as Row[];
  };
}

/** Runs `work` on one pooled connection, outside any transaction. */
export async function withConnection<T>(dataSource: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    return await work(sqlOn(runner));
  } finally {
    await runner.release();
  }
}

/**
 * Runs `work` in one transaction: committed when it resolves, rolled back when it
 * throws. Whatever `work` returns is the transaction's outcome.
 */
export async function inTransaction<T>(dataSource: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    try {
      const outcome = await work(sqlOn(runner));
      await runner.commitTransaction();
      return outcome;
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    }
  } finally {
    await runner.release();
  }
}
