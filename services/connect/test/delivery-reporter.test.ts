// DeliveryReporter on its own: how acks turn into ReportDelivered batches when
// core is fast, slow, or away.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { internalV1 } from '@im-mesh/contracts';
import { createLogger } from '@im-mesh/platform';
import { DeliveryReporter } from '../src/delivery/delivery-reporter.js';
import { ConnectMetrics } from '../src/metrics.js';

const logger = createLogger({ service: 'connect-test', level: 'silent' });

function reporterWith(report: (batch: internalV1.DeviceDelivery[]) => Promise<void>, overrides: Partial<ConstructorParameters<typeof DeliveryReporter>[0]> = {}) {
  const metrics = new ConnectMetrics();
  const reporter = new DeliveryReporter({ report, logger, metrics, flushIntervalMs: 20, batchSize: 500, maxPending: 10_000, ...overrides });
  return { reporter, metrics };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('delivery reporter', () => {
  test('many acks of one device and conversation become one watermark with the highest seq', async () => {
    const batches: internalV1.DeviceDelivery[][] = [];
    const { reporter } = reporterWith(async (batch) => {
      batches.push(batch);
    });
    for (const seq of [3, 9, 1, 7, 9, 2]) reporter.record('u', 'd', 'c', seq);
    reporter.record('u', 'd2', 'c', 4);
    await sleep(60);
    assert.deepEqual(batches, [
      [
        { userId: 'u', deviceId: 'd', conversationId: 'c', seq: 9 },
        { userId: 'u', deviceId: 'd2', conversationId: 'c', seq: 4 },
      ],
    ]);
    await reporter.close();
  });

  test('a full batch goes at once, without waiting for the flush interval', async () => {
    const batches: number[] = [];
    const { reporter } = reporterWith(async (batch) => {
      batches.push(batch.length);
    }, { flushIntervalMs: 60_000, batchSize: 500 });
    for (let i = 0; i < 1_200; i += 1) reporter.record('u', 'd', `c${i}`, 1);
    await sleep(50);
    assert.deepEqual(batches, [500, 500]);
    assert.equal(reporter.pendingCount, 200);
    await reporter.close();
    assert.deepEqual(batches, [500, 500, 200], 'close() sends the rest');
  });

  test('while core fails, watermarks are kept (merged with newer acks) and sent when it recovers', async () => {
    let failing = true;
    const delivered: internalV1.DeviceDelivery[] = [];
    let attempts = 0;
    const { reporter, metrics } = reporterWith(async (batch) => {
      attempts += 1;
      if (failing) throw new Error('core unavailable');
      delivered.push(...batch);
    });
    reporter.record('u', 'd', 'c', 5);
    await sleep(50);
    reporter.record('u', 'd', 'c', 8);
    assert.ok(attempts >= 1);
    assert.equal((await metrics.acksPending.get()).values[0]?.value, 1);
    failing = false;
    await sleep(400);
    assert.deepEqual(delivered, [{ userId: 'u', deviceId: 'd', conversationId: 'c', seq: 8 }]);
    assert.equal((await metrics.acksPending.get()).values[0]?.value, 0);
    await reporter.close();
  });

  test('the buffer is bounded while core is away: the oldest watermarks are dropped and counted', async () => {
    const { reporter, metrics } = reporterWith(async () => {
      throw new Error('core unavailable');
    }, { maxPending: 100, flushIntervalMs: 60_000 });
    for (let i = 0; i < 150; i += 1) reporter.record('u', 'd', `c${i}`, 1);
    assert.equal(reporter.pendingCount, 100);
    assert.equal((await metrics.deliveryReportsDropped.get()).values[0]?.value, 50);
    await reporter.close();
  });
});
