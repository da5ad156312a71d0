// When presence and the connection disagree: a route that lapsed (Redis blip)
// and was registered again, a register lost to a route from elsewhere (a node
// whose clock runs behind), and a register lost to a newer local connection of
// the same device. Only the last one tells the client not to come back.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { MemoryPresenceRegistry, type DeviceRoute } from '@im-mesh/platform';
import { authenticatedSocket, eventually, RecordingPresence, startHarness, type Harness } from './support/connect-harness.js';
import { openSocket } from './support/test-socket.js';

/** The in-process registry, with faults a test switches on one call at a time. */
class FaultyPresence extends RecordingPresence {
  /** The next refresh finds the route expired (it is removed) and returns false. */
  lapseNextRefresh = false;
  /** The next register returns false and stores nothing, as if another route held the device. */
  refuseNextRegister = false;
  /** True while a register waits at the gate set by holdNextRegister. */
  holding = false;
  private gate: Promise<void> | undefined;

  /** Makes the next register wait until the returned function is called. */
  holdNextRegister(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return release;
  }

  override async register(route: DeviceRoute, ttlSeconds: number): Promise<boolean> {
    const gate = this.gate;
    if (gate) {
      this.gate = undefined;
      this.holding = true;
      await gate;
      this.holding = false;
    }
    if (this.refuseNextRegister) {
      this.refuseNextRegister = false;
      this.calls.push({ op: 'register', connectionId: route.connectionId });
      return false;
    }
    return super.register(route, ttlSeconds);
  }

  override async refresh(userId: string, deviceId: string, connectionId: string, ttlSeconds: number): Promise<boolean> {
    if (this.lapseNextRefresh) {
      this.lapseNextRefresh = false;
      this.calls.push({ op: 'refresh', connectionId });
      // The route expires on its own: removed without recording an unregister call.
      await MemoryPresenceRegistry.prototype.unregister.call(this, userId, deviceId, connectionId);
      return false;
    }
    return super.refresh(userId, deviceId, connectionId, ttlSeconds);
  }
}

describe('presence recovery', () => {
  let harness: Harness;
  let presence: FaultyPresence;
  before(async () => {
    presence = new FaultyPresence();
    // Heartbeat 200 ms: at most one refresh per 200 ms, idle timeout after 600 ms.
    harness = await startHarness({ CONNECT_HEARTBEAT_INTERVAL_MS: '200' }, { presence });
  });
  afterEach(() => {
    presence.lapseNextRefresh = false;
    presence.refuseNextRegister = false;
  });
  after(() => harness.stop());

  test('a route that lapsed and was registered again makes the client reconnect soon, so it resyncs what it missed', async () => {
    const { socket, authenticated } = await authenticatedSocket(harness, 'user-l', 'device-l1');
    await new Promise((resolve) => setTimeout(resolve, 250));
    presence.lapseNextRefresh = true;
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    await socket.frames.expect('pong');
    const goAway = await socket.frames.expect('goAway');
    assert.equal(goAway.reconnect, true);
    assert.equal(goAway.reason, 'route lapsed');
    assert.ok(goAway.reconnectAfterMs >= 0 && goAway.reconnectAfterMs <= 1_000, `${goAway.reconnectAfterMs} ms`);
    assert.equal((await socket.closed).code, 1001);
    const registers = presence.calls.filter((call) => call.op === 'register' && call.connectionId === authenticated.connectionId);
    assert.equal(registers.length, 2, 'registered on auth and again after the lapse');
    await eventually(async () => (await presence.routeOf('user-l', 'device-l1')) === undefined, 1_000, 'route removed on close');
  });

  test('a register lost to a route from elsewhere tells the newest connection to retry after 0.5 to 2 s', async () => {
    presence.refuseNextRegister = true;
    const socket = await openSocket(harness.httpAddress, { protocols: ['im.v1', `im.auth.${harness.token('user-k', 'device-k1')}`] });
    const goAway = await socket.frames.expect('goAway');
    assert.equal(goAway.reconnect, true);
    assert.equal(goAway.reason, 'route conflict');
    assert.ok(goAway.reconnectAfterMs >= 500 && goAway.reconnectAfterMs <= 2_000, `${goAway.reconnectAfterMs} ms`);
    assert.equal((await socket.closed).code, 1001);
    assert.equal(await presence.routeOf('user-k', 'device-k1'), undefined);

    // The retry gets a later epoch and wins.
    const retry = await authenticatedSocket(harness, 'user-k', 'device-k1');
    assert.equal((await presence.routeOf('user-k', 'device-k1'))?.connectionId, retry.authenticated.connectionId);
    retry.socket.close();
  });

  test('a register lost to a newer connection of the same device on this node is final: GoAway without reconnect', async () => {
    const release = presence.holdNextRegister();
    const older = await openSocket(harness.httpAddress, { protocols: ['im.v1', `im.auth.${harness.token('user-m', 'device-m1')}`] });
    await eventually(() => presence.holding, 2_000, 'older connection registering');
    const newer = await authenticatedSocket(harness, 'user-m', 'device-m1');
    release();
    assert.deepEqual(await older.frames.expect('goAway'), { reconnect: false, reconnectAfterMs: 0, reason: 'replaced' });
    assert.equal((await older.closed).code, 1000);
    assert.equal((await presence.routeOf('user-m', 'device-m1'))?.connectionId, newer.authenticated.connectionId);
    newer.socket.close();
  });
});
