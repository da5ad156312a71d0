// Fault scenario: the edge SIGKILLed in the middle of a send storm and started
// again on the same port. Devices do their unary calls (send, sync) through the
// edge and retry them; their long connections go straight to the connect nodes
// (through the per-device proxies), so pushes keep flowing meanwhile. Sends
// whose outcome stayed unknown are retried with the same client_msg_id. Every
// acked send must arrive, once and in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep } from './support/storm.js';

test('the edge killed with SIGKILL under a send storm and restarted on its port: every acked send arrives once and in order', async () => {
  await runFaultScenario({ label: 'edge_killed' }, async ({ system, fleet, history }) => {
    const storm = runStorm(history, ringSenders(fleet), { durationMs: 12_000, intervalMs: 150 });
    await sleep(3_000);
    const address = system.edge.grpcAddress;
    history.mark('fault');
    await system.killEdge();
    await sleep(2_000);
    await system.restartEdge();
    history.mark('healed');
    assert.equal(system.edge.grpcAddress, address, 'the new edge listens where the old one did');
    await storm;
    const records = [...history.sends.values()];
    const unknown = records.filter((record) => record.attempts.some((attempt) => attempt.outcome.kind === 'unknown')).length;
    console.log(`[fault-history] edge_killed: sends with an unanswered attempt while the edge was down ${unknown}; all devices connected: ${fleet.allConnected()}`);
  });
});
