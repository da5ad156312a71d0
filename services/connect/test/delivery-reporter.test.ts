// DeliveryReporter on its own: how acks turn into ReportDelivered batches when
// core is fast, slow, or away.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { internalV1 } from '@im-mesh/contracts';
import { createLogger, type Logger } from '@im-mesh/platform';
import { ClientError, Status } from 'nice-grpc';
import { DeliveryReporter } from '../src/delivery/delivery-reporter.js';
import { ConnectMetrics } from '../src/metrics.js';

const logger = createLogger({ service: 'connect-test', level: 'silent' });

function reporterWith(report: (batch: internalV1.DeviceDelivery[]) => Promise<void>, overrides: Partial<ConstructorParameters<typeof DeliveryReporter>[0]> = {}) {
  const metrics = new ConnectMetrics();
  const reporter = new DeliveryReporter({ report, logger, metrics, flushIntervalMs: 20, batchSize: 500, maxPending: 10_000, ...overrides });
  return { reporter, metrics };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger that keeps the messages of its warn lines. */
function warningsLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => undefined;
  const fake = { warn: (_fields: unknown, message: string) => warnings.push(message), info: ignore, error: ignore, debug: ignore };
  return { logger: fake as unknown as Logger, warnings };
}

const refusedBy = (status: Status) => new ClientError('/im.internal.v1.DeliveryService/ReportDelivered', status, 'core refused');

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

  test('after a failed batch a full buffer waits for the backoff instead of retrying at once', async () => {
    let attempts = 0;
    const { reporter } = reporterWith(
      () => {
        attempts += 1;
        return new Promise((_, reject) => setImmediate(() => reject(new Error('core down'))));
      },
      { flushIntervalMs: 100, batchSize: 5, maxPending: 1_000 },
    );
    try {
      for (let i = 0; i < 10; i += 1) reporter.record('u', 'd', `c${i}`, 1);
      await sleep(300);
      // At once (full batch), then after 200 ms of backoff; the next try is 400 ms later.
      assert.ok(attempts >= 1 && attempts <= 3, `${attempts} attempts in 300 ms`);
      // Acks arriving during the backoff do not cut it short either.
      const before = attempts;
      for (let i = 10; i < 20; i += 1) reporter.record('u', 'd', `c${i}`, 1);
      await sleep(20);
      assert.equal(attempts, before);
      assert.equal(reporter.pendingCount, 20, 'nothing lost while retrying');
    } finally {
      await reporter.close();
    }
  });

  test('a report that rejects synchronously does not starve the event loop', async () => {
    let attempts = 0;
    const { reporter } = reporterWith(
      () => {
        attempts += 1;
        return Promise.reject(new Error('core down'));
      },
      { flushIntervalMs: 50, batchSize: 2, maxPending: 1_000 },
    );
    for (let i = 0; i < 10; i += 1) reporter.record('u', 'd', `c${i}`, 1);
    // This timer fires at all only if the reporter yields to the event loop.
    await sleep(120);
    assert.ok(attempts <= 3, `${attempts} attempts in 120 ms`);
    await reporter.close();
  });

  test('a batch core refuses for good is dropped with one warning; the rest still reaches core', async () => {
    const delivered: string[] = [];
    const { logger, warnings } = warningsLogger();
    let attempts = 0;
    const { reporter, metrics } = reporterWith(
      async (batch) => {
        attempts += 1;
        if (batch.some((delivery) => delivery.conversationId === 'poisoned')) throw refusedBy(Status.INVALID_ARGUMENT);
        delivered.push(...batch.map((delivery) => delivery.conversationId));
      },
      { logger, batchSize: 2 },
    );
    reporter.record('u', 'd', 'poisoned', 1);
    reporter.record('u', 'd', 'c1', 1);
    reporter.record('u', 'd', 'c2', 1);
    reporter.record('u', 'd', 'c3', 1);
    await sleep(100);
    assert.deepEqual(delivered, ['c2', 'c3']);
    assert.equal(attempts, 2, 'the refused batch is not retried');
    assert.equal(reporter.pendingCount, 0);
    assert.deepEqual(warnings, ['core refused a batch of delivery watermarks; dropped 2 of them']);
    assert.equal((await metrics.deliveryReportsDropped.get()).values[0]?.value, 2);
    await reporter.close();
  });

  test('INTERNAL drops the batch; UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and ABORTED keep it for a retry', async () => {
    for (const status of [Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED, Status.ABORTED, Status.INTERNAL]) {
      let failing = true;
      const delivered: internalV1.DeviceDelivery[] = [];
      const { reporter } = reporterWith(async (batch) => {
        if (failing) {
          failing = false;
          throw refusedBy(status);
        }
        delivered.push(...batch);
      });
      reporter.record('u', 'd', 'c', 3);
      await sleep(150);
      const kept = status !== Status.INTERNAL;
      assert.deepEqual(delivered.map(({ seq }) => seq), kept ? [3] : [], `status ${Status[status]}`);
      await reporter.close();
    }
  });
});
