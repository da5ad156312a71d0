// Fault scenario (g): a connect node is frozen with SIGSTOP in the middle of a
// send storm, as in a long GC pause or a stalled VM, and taken out of the
// devices' upstream lists (as a load balancer's failing health check would).
// Its devices notice the silence, reconnect to other nodes and sync. Then the
// node is resumed with SIGCONT: its stale connections must not overwrite the
// newer routes (presence compare-and-set on the epoch), and nothing may be lost
// or shown twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openRedis, RedisPresenceRegistry } from '@im-mesh/platform';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep, until } from './support/storm.js';

test('a connect node paused with SIGSTOP and resumed: its devices move, it does not clobber their new routes, nothing lost or duplicated', async () => {
  const redis = await openRedis({ connectionName: 'fault-test-paused' });
  const presence = new RedisPresenceRegistry(redis);
  try {
    await runFaultScenario({ label: 'connect_paused' }, async ({ system, fleet, history }) => {
      const paused = system.connects[0]!;
      const pausedId = system.nodeId(0);
      const storm = runStorm(history, ringSenders(fleet), { durationMs: 18_000, intervalMs: 250 });
      await sleep(3_000);
      const victims = fleet.devicesOn(0);
      assert.ok(victims.length > 0, 'some devices are connected to the node about to freeze');
      history.mark('fault');
      paused.pause();
      fleet.markNodeDown(0);
      const movedMs = await until(
        'the frozen node\'s devices to be connected to other nodes',
        // The old sockets linger (the frozen node cannot answer the WebSocket close); a new one must exist.
        () => victims.every((device) => device.client.state === 'connected' && device.proxy.liveTargets().some((target) => target !== paused.httpAddress)),
        30_000,
      );
      console.log(`[fault-history] connect_paused: ${victims.length} devices moved ${movedMs} ms after SIGSTOP`);
      await sleep(1_000);
      paused.resume();
      history.mark('healed');
      // Three heartbeats: the resumed node reads what queued up in its sockets,
      // tries to refresh its stale routes and must lose every compare-and-set.
      await sleep(6_500);
      const routes = [...(await presence.routesOf(fleet.users.map((user) => user.userId))).values()].flat();
      const stale = routes.filter((route) => route.nodeId === pausedId);
      assert.deepEqual(stale, [], 'no route names the resumed node');
      assert.equal(routes.length, fleet.devices.size, 'every device still has its route');
      await storm;
    });
  } finally {
    await presence.close();
    redis.disconnect();
  }
});
