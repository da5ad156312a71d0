// Fault scenario (b): a core that edge and connect nodes are talking to is
// SIGKILLed in the middle of a send storm. The edge spreads calls over both
// cores and stops calling the dead one; the connect nodes' balancer hands new
// connections to the other core, which keeps serving (its outbox relay also
// takes over the dead one's rows once PostgreSQL drops its claims). Sends caught
// in the crash fail over through the SDK's retries with the same client_msg_id,
// and the harness retries any whose outcome stayed unknown. The killed core is
// then started again. Every acked send must arrive, once and in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep } from './support/storm.js';

test('a core killed with SIGKILL under a send storm: the other core keeps serving and after the restart every acked send arrives', async () => {
  await runFaultScenario({ label: 'core_killed' }, async ({ system, fleet, history }) => {
    const storm = runStorm(history, ringSenders(fleet), { durationMs: 10_000, intervalMs: 150 });
    await sleep(3_000);
    const victim = system.cores.indexOf(system.preferredCore);
    assert.ok(system.coreBalancer.liveTargets().includes(system.cores[victim]!.grpcAddress), 'the doomed core serves the connect nodes');
    assert.ok(system.coreFronts[victim]!.connectionCount > 0, 'and the edge');
    history.mark('fault');
    await system.killCore(victim);
    await sleep(3_000);
    await system.restartCore(victim);
    history.mark('healed');
    await storm;
  });
});
