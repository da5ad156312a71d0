// CoalescedCall: one call in flight at most; the requests made meanwhile share
// exactly one more call after it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoalescedCall } from '../src/outbox/coalesced-call.js';

describe('CoalescedCall', () => {
  test('a burst of requests during a call costs one more call, not one each', async () => {
    const finishers: Array<() => void> = [];
    const signal = new CoalescedCall(() => new Promise<void>((resolve) => finishers.push(resolve)));
    signal.request();
    for (let i = 0; i < 100; i += 1) signal.request();
    assert.equal(finishers.length, 1, 'one call in flight');
    finishers[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(finishers.length, 2, 'the burst shares one more call');
    finishers[1]!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(finishers.length, 2, 'nothing was requested during the second call');
    signal.request();
    assert.equal(finishers.length, 3, 'an idle signal calls at once');
  });
});
