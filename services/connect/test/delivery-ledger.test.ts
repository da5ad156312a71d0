// DeliveryLedger on its own: duplicate pushes are recognised and awaited
// messages stay bounded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeliveryLedger } from '../src/delivery/delivery-ledger.js';

describe('delivery ledger', () => {
  test('a message id is new once; repeats are duplicates until it falls out of the recent window', () => {
    const ledger = new DeliveryLedger(100, 3);
    assert.equal(ledger.firstSight('m1'), true);
    assert.equal(ledger.firstSight('m1'), false);
    for (const id of ['m2', 'm3', 'm4']) assert.equal(ledger.firstSight(id), true);
    assert.equal(ledger.firstSight('m1'), true, 'forgotten after three newer ids');
  });

  test('awaited messages are taken once, unknown ids give nothing, and the oldest are forgotten beyond the bound', () => {
    const ledger = new DeliveryLedger(2);
    ledger.awaitAck('m1', { conversationId: 'c', seq: 1 });
    ledger.awaitAck('m2', { conversationId: 'c', seq: 2 });
    ledger.awaitAck('m3', { conversationId: 'c', seq: 3 });
    assert.equal(ledger.awaitedCount, 2);
    assert.equal(ledger.takeAwaited('m1'), undefined, 'dropped as the oldest');
    assert.deepEqual(ledger.takeAwaited('m3'), { conversationId: 'c', seq: 3 });
    assert.equal(ledger.takeAwaited('m3'), undefined, 'taken only once');
    assert.equal(ledger.takeAwaited('someone-elses'), undefined);
  });
});
