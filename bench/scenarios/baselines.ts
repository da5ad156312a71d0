// baselines: the physical limits of this machine measured in the same run, to
// print beside the system's figures as ratios (RESULTS.md): raw `ws` echo, a raw
// PostgreSQL message + outbox insert transaction on the system's own PostgreSQL
// (and the same with a NOTIFY, see postgres-insert.ts),
// raw RabbitMQ publish with confirms (on the machine's RabbitMQ in both modes).
import { measurePostgresInsert } from '../baselines/postgres-insert.js';
import { measureRabbitPublish } from '../baselines/rabbitmq-publish.js';
import { measureWsEcho } from '../baselines/ws-echo.js';
import { durationOf, type ScenarioContext, type ScenarioResult } from '../harness/scenario.js';

const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export async function baselines(context: ScenarioContext): Promise<ScenarioResult> {
  const real = context.size === 'real';
  const durationMs = durationOf(context, 15_000, 2_000);
  const echoConnections = real ? 500 : 10;
  const echoInFlight = 8;
  const pgClients = real ? 32 : 4;
  const rabbitWindow = real ? 1_000 : 50;
  context.progress(`  raw ws echo, ${echoConnections} connections x ${echoInFlight} in flight`);
  const echo = await measureWsEcho(echoConnections, echoInFlight, durationMs);
  context.progress(`  raw PostgreSQL message+outbox transactions, ${pgClients} connections`);
  const insert = await measurePostgresInsert(context.system.databaseUrl, pgClients, durationMs);
  context.progress(`  the same with a pg_notify in each transaction (as core's send did until d5b7f74)`);
  const insertNotify = await measurePostgresInsert(context.system.databaseUrl, pgClients, durationMs, true);
  context.progress(`  raw RabbitMQ persistent publishes with confirms, window ${rabbitWindow}`);
  const publish = await measureRabbitPublish(RABBITMQ_URL, rabbitWindow, durationMs);
  return {
    scenario: 'baselines',
    mode: context.system.mode,
    size: context.size,
    parameters: {
      durationMs,
      echoConnections,
      echoInFlightPerConnection: echoInFlight,
      postgresConnections: pgClients,
      postgresServer: `${insert.serverVersion} (synchronous_commit=${insert.synchronousCommit})`,
      rabbitmqWindow: rabbitWindow,
      rabbitmqServer: publish.serverVersion,
    },
    metrics: {
      wsEcho_roundTripsPerSecond: echo.roundTripsPerSecond,
      wsEcho_p50Ms: echo.p50Ms,
      wsEcho_p99Ms: echo.p99Ms,
      postgres_transactionsPerSecond: insert.transactionsPerSecond,
      postgres_p50Ms: insert.p50Ms,
      postgres_p99Ms: insert.p99Ms,
      postgresWithNotify_transactionsPerSecond: insertNotify.transactionsPerSecond,
      postgresWithNotify_p50Ms: insertNotify.p50Ms,
      postgresWithNotify_p99Ms: insertNotify.p99Ms,
      rabbitmq_confirmedPerSecond: publish.confirmedPerSecond,
      rabbitmq_p50Ms: publish.p50Ms,
      rabbitmq_p99Ms: publish.p99Ms,
    },
    targets: [],
    loss: { expected: 0, received: 0, lost: 0, duplicated: 0, reordered: 0, unexpected: 0 },
    series: [],
    histogram: [],
    notes: [
      context.system.mode === 'embedded'
        ? 'PostgreSQL here is the embedded one the all-in-one started; RabbitMQ is the machine\'s (embedded mode does not use it).'
        : 'PostgreSQL and RabbitMQ are the ones the split system uses.',
    ],
  };
}
