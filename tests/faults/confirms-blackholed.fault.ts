// Fault scenario (d): publisher confirms blackholed. The cores' AMQP connection
// goes through a FaultProxy that, for eight seconds, drops every byte from the
// broker to the cores and nothing else: publishes reach the queues but their
// confirms never come back, so they time out (or the connection dies of missed
// heartbeats) and the outbox relay publishes them again. The copies that were
// queued twice must still show once on every device, and nothing may be lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep } from './support/storm.js';

test('confirms blackholed for a few seconds under a send storm: publishes are retried, nothing lost, nothing shown twice', async () => {
  await runFaultScenario({ label: 'confirms_blackholed', brokerProxy: { cores: true }, convergeWithinMs: 45_000 }, async ({ system, fleet, history }) => {
    const proxy = system.coreBrokerProxy!;
    const storm = runStorm(history, ringSenders(fleet), { durationMs: 14_000, intervalMs: 200 });
    await sleep(3_000);
    history.mark('fault');
    proxy.blackhole('to-client');
    await sleep(8_000);
    proxy.heal();
    history.mark('healed');
    await storm;
    const retries = await system.coreMetric('core_outbox_retries_total');
    console.log(
      `[fault-history] confirms_blackholed: core outbox retries ${retries}, ` +
        `failed publishes ${await system.coreMetric('core_push_publishes_total', 'outcome="failed"')}, ` +
        `dead outbox rows ${await system.coreMetric('core_outbox_dead_total')}`,
    );
    assert.ok(retries > 0, 'the outbox relay had to retry publishes');
    console.log(`[fault-history] confirms_blackholed: bytes dropped broker->core ${proxy.dropped.toClient}, core->broker ${proxy.dropped.toUpstream}`);
    assert.ok(proxy.dropped.toClient > 0, 'the blackhole swallowed the broker\'s answers');
    assert.equal(proxy.dropped.toUpstream, 0, 'publishes themselves went through');
  });
});
