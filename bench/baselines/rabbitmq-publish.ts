// Baseline: raw RabbitMQ publishes with publisher confirms, persistent, into a
// durable quorum queue (what the push bus does per envelope), with a bounded
// window of unconfirmed publishes, for `durationMs`. The queue is deleted after.
import amqp from 'amqplib';
import { randomBytes } from 'node:crypto';
import { LatencyHistogram } from '../harness/latency-histogram.js';
import { round } from '../harness/message-load.js';

export interface PublishBaseline {
  confirmedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverVersion: string;
}

export async function measureRabbitPublish(url: string, window: number, durationMs: number): Promise<PublishBaseline> {
  let connection: Awaited<ReturnType<typeof amqp.connect>>;
  try {
    connection = await amqp.connect(url);
  } catch (error) {
    throw new Error(`The RabbitMQ baseline needs RabbitMQ at ${url}. Start it with: rabbitmq-server -detached. Cause: ${(error as Error).message}`);
  }
  const queue = `bench.baseline.${randomBytes(4).toString('hex')}`;
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const serverVersion = String(connection.connection.serverProperties.version ?? 'unknown');
    const histogram = new LatencyHistogram();
    const body = randomBytes(256);
    let confirmed = 0;
    const endsAt = Date.now() + durationMs;
    await new Promise<void>((done, fail) => {
      let outstanding = 0;
      const publish = () => {
        const started = process.hrtime.bigint();
        outstanding += 1;
        channel.sendToQueue(queue, body, { persistent: true }, (error: unknown) => {
          outstanding -= 1;
          if (error) return fail(error as Error);
          histogram.record(Number(process.hrtime.bigint() - started) / 1000);
          confirmed += 1;
          if (Date.now() < endsAt) publish();
          else if (outstanding === 0) done();
        });
      };
      for (let i = 0; i < window; i += 1) publish();
    });
    await channel.deleteQueue(queue);
    await channel.close();
    return { confirmedPerSecond: round(confirmed / (durationMs / 1000)), p50Ms: round(histogram.quantileMs(0.5), 3), p99Ms: round(histogram.quantileMs(0.99), 3), serverVersion };
  } finally {
    await connection.close().catch(() => undefined);
  }
}
