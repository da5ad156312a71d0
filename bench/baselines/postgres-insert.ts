// Baseline: the raw PostgreSQL cost of what a durable send must do at least: one
// transaction inserting a message row and an outbox row, with the server's
// shipped settings (synchronous_commit on), on the same server the system
// writes to. `clients` connections run transactions back to back for `durationMs`.
// The tables live in a schema of their own, dropped afterwards.
//
// `withNotify` adds a pg_notify inside the transaction, as core's send did (until d5b7f74) to
// wake other instances' relays: PostgreSQL serializes the commits of every
// transaction that notified (a database-wide lock taken before commit and held
// until the commit record is flushed), so the pair of figures shows what that
// costs on this disk.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { LatencyHistogram } from '../harness/latency-histogram.js';
import { round } from '../harness/message-load.js';

export interface InsertBaseline {
  transactionsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  synchronousCommit: string;
  serverVersion: string;
}

export async function measurePostgresInsert(databaseUrl: string, clients: number, durationMs: number, withNotify = false): Promise<InsertBaseline> {
  const schema = `bench_baseline_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: clients });
  try {
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.messages (
      id uuid PRIMARY KEY, conversation_id text NOT NULL, seq bigint NOT NULL, sender_id uuid NOT NULL,
      client_msg_id text NOT NULL, content bytea NOT NULL, sent_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (conversation_id, seq), UNIQUE (sender_id, client_msg_id))`);
    await pool.query(`CREATE TABLE ${schema}.outbox (id bigserial PRIMARY KEY, message_id uuid NOT NULL REFERENCES ${schema}.messages (id), conversation_id text NOT NULL, due_at timestamptz NOT NULL DEFAULT now())`);
    const synchronousCommit = (await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
    const serverVersion = (await pool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    const histogram = new LatencyHistogram();
    let committed = 0;
    const endsAt = Date.now() + durationMs;
    const content = randomBytes(64);
    await Promise.all(
      Array.from({ length: clients }, async (_, lane) => {
        const client = await pool.connect();
        const sender = randomUUID();
        const conversation = `baseline-${lane}`;
        let seq = 0;
        try {
          while (Date.now() < endsAt) {
            const started = process.hrtime.bigint();
            const id = randomUUID();
            seq += 1;
            await client.query('BEGIN');
            await client.query(`INSERT INTO ${schema}.messages (id, conversation_id, seq, sender_id, client_msg_id, content) VALUES ($1, $2, $3, $4, $5, $6)`, [id, conversation, seq, sender, id, content]);
            await client.query(`INSERT INTO ${schema}.outbox (message_id, conversation_id) VALUES ($1, $2)`, [id, conversation]);
            if (withNotify) await client.query(`SELECT pg_notify('${schema}', '')`);
            await client.query('COMMIT');
            histogram.record(Number(process.hrtime.bigint() - started) / 1000);
            committed += 1;
          }
        } finally {
          client.release();
        }
      }),
    );
    return { transactionsPerSecond: round(committed / (durationMs / 1000)), p50Ms: round(histogram.quantileMs(0.5), 3), p99Ms: round(histogram.quantileMs(0.99), 3), synchronousCommit, serverVersion };
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await pool.end();
  }
}
