// Fault scenario (a): a connect node is SIGKILLed in the middle of a send storm
// while clients are connected to it. Its clients reconnect to another node (the
// per-device proxy's next upstream) and sync; every acked send must reach every
// recipient device once and in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep, until } from './support/storm.js';

test('a connect node killed with SIGKILL under a send storm: its clients reconnect elsewhere and sync, nothing lost, duplicated or reordered', async () => {
  await runFaultScenario({ label: 'connect_killed' }, async ({ system, fleet, history }) => {
    const storm = runStorm(history, ringSenders(fleet), { durationMs: 8_000, intervalMs: 150 });
    await sleep(2_500);
    const victims = fleet.devicesOn(0);
    assert.ok(victims.length > 0, 'some devices are connected to the node about to die');
    history.mark('fault');
    await system.connects[0]!.kill();
    // Nothing to repair by hand: the other nodes take the reconnects at once.
    history.mark('healed');
    const dead = system.connects[0]!.httpAddress;
    const movedMs = await until(
      'the dead node\'s devices to be connected to other nodes',
      () => victims.every((device) => device.client.state === 'connected' && device.proxy.liveTargets().some((target) => target !== dead)),
      20_000,
    );
    console.log(`[fault-history] connect_killed: ${victims.length} devices moved to other nodes ${movedMs} ms after the kill`);
    await storm;
  });
});
