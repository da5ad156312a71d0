// Core's Prometheus metrics, registered on the service's registry. Names carry
// the unit; labels are small closed sets.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutboxStats } from './storage/outbox-store.js';

export interface CoreMetrics {
  /** Messages accepted by SendMessage: result = stored | duplicate. */
  messagesSent: Counter<'result'>;
  /** Push-bus publishes, one per node: kind = message | receipt | typing | hidden; outcome = delivered | unroutable | failed. */
  publishes: Counter<'kind' | 'outcome'>;
  /** Outbox rows rescheduled after a failed publish. */
  outboxRetries: Counter;
  /** Outbox rows dead-lettered after CORE_OUTBOX_MAX_ATTEMPTS failed publishes. */
  outboxDead: Counter;
  /** Seconds from a message's commit to the bus accepting its pushes. */
  deliveryLatency: Histogram;
}

/**
 * Registers core's metrics. `outboxStats` is read at scrape time, once for the
 * three outbox gauges; a scrape while the database is unreachable keeps their
 * last values (/readyz reports the outage).
 */
export function createCoreMetrics(registry: Registry, outboxStats: () => Promise<OutboxStats>): CoreMetrics {
  // prom-client starts every metric's collect() of a scrape at once: the three
  // gauges share the one query in flight, and the next scrape reads afresh.
  let inFlight: Promise<OutboxStats> | undefined;
  const readStats = (): Promise<OutboxStats> =>
    (inFlight ??= outboxStats().finally(() => {
      inFlight = undefined;
    }));
  const outboxGauge = (name: string, help: string, pick: (stats: OutboxStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(pick(await readStats()));
        } catch {
          // Kept at the last value, as said above.
        }
      },
    });
  outboxGauge('core_outbox_backlog', 'Outbox rows not yet pushed, including rows waiting out a retry backoff.', (s) => s.pending);
  outboxGauge(
    'core_outbox_oldest_pending_age_seconds',
    'Seconds since the send of the oldest outbox row not yet pushed committed; 0 when the outbox is empty.',
    (s) => s.oldestPendingAgeSeconds,
  );
  outboxGauge('core_outbox_dead_rows', 'Outbox rows dead-lettered and not requeued (their messages reach devices by sync only).', (s) => s.dead);
  return {
    messagesSent: new Counter({
      name: 'core_messages_sent_total',
      help: 'SendMessage calls that stored a message or returned an earlier one.',
      labelNames: ['result'],
      registers: [registry],
    }),
    publishes: new Counter({
      name: 'core_push_publishes_total',
      help: 'Push-bus publishes to connect nodes, by kind and outcome (delivered, unroutable, failed).',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    outboxRetries: new Counter({
      name: 'core_outbox_retries_total',
      help: 'Outbox rows rescheduled after a failed publish.',
      registers: [registry],
    }),
    outboxDead: new Counter({
      name: 'core_outbox_dead_total',
      help: 'Outbox rows dead-lettered after CORE_OUTBOX_MAX_ATTEMPTS failed publishes; their live pushes were abandoned.',
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'core_message_delivery_latency_seconds',
      help: 'Time from a message commit to the push bus accepting (confirming) its pushes.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
