// The per-connection frame budget as a live setting: an operator's change of
// `connect-frame-rate` (Consul KV in production, the in-process source here)
// applies to connections that are already open, and its removal restores the
// CONNECT_FRAMES_PER_SECOND / CONNECT_FRAME_BURST values.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MemoryLiveSettings } from '@im-mesh/platform';
import { CONNECT_FRAME_RATE_SETTING } from '../src/start-connect-service.js';
import { authenticatedSocket, startHarness, type Harness } from './support/connect-harness.js';

/** Sends `count` pings at once; how many pongs came back before RATE_LIMITED (or all of them). */
async function pongsBeforeLimit(socket: Awaited<ReturnType<typeof authenticatedSocket>>['socket'], count: number): Promise<{ pongs: number; limited: boolean }> {
  for (let i = 0; i < count; i += 1) socket.send({ kind: { $case: 'ping', value: { clientTimeMs: i } } });
  let pongs = 0;
  while (pongs < count) {
    const frame = await socket.frames.next();
    if (frame.kind?.$case === 'pong') pongs += 1;
    else {
      assert.equal(frame.kind?.$case === 'error' && frame.kind.value.reason, 'RATE_LIMITED');
      return { pongs, limited: true };
    }
  }
  return { pongs, limited: false };
}

describe('connect frame budget as a live setting', () => {
  const settings = new MemoryLiveSettings();
  let harness: Harness;
  before(async () => {
    // From the environment: a budget no test here exhausts.
    harness = await startHarness({ CONNECT_FRAMES_PER_SECOND: '1', CONNECT_FRAME_BURST: '1000' }, { settings });
  });
  after(() => harness.stop());

  test('a lower burst applies to an open connection at once; removing the setting restores the environment budget', async () => {
    const { socket: open } = await authenticatedSocket(harness, 'user-live', 'device-1');
    assert.deepEqual(await pongsBeforeLimit(open, 20), { pongs: 20, limited: false });

    settings.set(CONNECT_FRAME_RATE_SETTING, { burst: 5 });
    const result = await pongsBeforeLimit(open, 20);
    assert.equal(result.limited, true, 'the open connection was held to the new budget');
    assert.ok(result.pongs <= 5, `${result.pongs} pongs under a burst of 5`);
    assert.equal((await open.closed).code, 1008);

    settings.set(CONNECT_FRAME_RATE_SETTING, { burst: 'many' });
    const { socket: stillFive } = await authenticatedSocket(harness, 'user-live', 'device-2');
    assert.equal((await pongsBeforeLimit(stillFive, 20)).limited, true, 'an invalid value left the last good budget in force');

    settings.remove(CONNECT_FRAME_RATE_SETTING);
    const { socket: after } = await authenticatedSocket(harness, 'user-live', 'device-3');
    assert.deepEqual(await pongsBeforeLimit(after, 20), { pongs: 20, limited: false });
  });
});
