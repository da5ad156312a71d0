// Fault scenario (c): RabbitMQ out of reach in the middle of a send storm, two
// ways, without touching the shared broker: every service's AMQP connection goes
// through a FaultProxy.
// - unreachable for 10 s: the proxies blackhole both directions (bytes accepted
//   and dropped, so peers notice only through heartbeats and connect timeouts);
// - down for 30 s: the proxies reset every connection and refuse new ones, as a
//   stopped broker would, then accept again as a restarted one.
// Sends keep being acked meanwhile (they only need PostgreSQL); the outbox relay
// retries the pushes, and devices fill any gap by sync. Nothing acked may be lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaultProxy } from './support/fault-proxy.js';
import { runFaultScenario } from './support/scenario.js';
import type { SplitSystem } from './support/split-system.js';
import { ringSenders, runStorm, sleep } from './support/storm.js';

async function brokerOutage(
  label: string,
  outageMs: number,
  storm: { durationMs: number; intervalMs: number },
  fault: (proxy: FaultProxy) => void,
): Promise<void> {
  await runFaultScenario({ label, brokerProxy: { cores: true, connects: true }, convergeWithinMs: 45_000 }, async ({ system, fleet, history }) => {
    const proxies = [system.coreBrokerProxy!, system.connectBrokerProxy!];
    const sending = runStorm(history, ringSenders(fleet), storm);
    await sleep(3_000);
    history.mark('fault');
    for (const proxy of proxies) fault(proxy);
    await sleep(outageMs);
    for (const proxy of proxies) proxy.heal();
    history.mark('healed');
    await sending;
    await reportRelayRetries(label, system);
  });
}

/** Prints what the relay went through and fails if it never had to retry (the fault missed). */
async function reportRelayRetries(label: string, system: SplitSystem): Promise<void> {
  const retries = await system.coreMetric('core_outbox_retries_total');
  console.log(
    `[fault-history] ${label}: core outbox retries ${retries}, ` +
      `failed publishes ${await system.coreMetric('core_push_publishes_total', 'outcome="failed"')}, ` +
      `dead outbox rows ${await system.coreMetric('core_outbox_dead_total')}, ` +
      `proxied connections ${system.coreBrokerProxy!.accepted + system.connectBrokerProxy!.accepted}`,
  );
  assert.ok(retries > 0, 'the outbox relay had to retry publishes');
}

test('RabbitMQ unreachable (blackholed) for 10 s under a send storm: after it is back every acked send arrives, once and in order', async () => {
  await brokerOutage('rabbitmq_unreachable', 10_000, { durationMs: 18_000, intervalMs: 250 }, (proxy) => proxy.blackhole('both'));
});

test('RabbitMQ down for 30 s (connections reset, new ones refused) under a send storm: after it is back every acked send arrives', async () => {
  await brokerOutage('rabbitmq_down', 30_000, { durationMs: 38_000, intervalMs: 500 }, (proxy) => {
    proxy.refuse();
    proxy.resetAll();
  });
});
