// Core's Prometheus metrics, registered on the service's registry. Names carry
// the unit; labels are small closed sets.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface CoreMetrics {
  /** Messages accepted by SendMessage: result = stored | duplicate. */
  messagesSent: Counter<'result'>;
  /** Push-bus publishes, one per node: kind = message | receipt; outcome = delivered | unroutable | failed. */
  publishes: Counter<'kind' | 'outcome'>;
  /** Outbox rows rescheduled after a failed publish. */
  outboxRetries: Counter;
  /** Seconds from a message's commit to the bus accepting its pushes. */
  deliveryLatency: Histogram;
}

/** Registers core's metrics; `backlog` is read at scrape time for the outbox backlog gauge. */
export function createCoreMetrics(registry: Registry, backlog: () => Promise<number>): CoreMetrics {
  new Gauge({
    name: 'core_outbox_backlog',
    help: 'Outbox rows not yet pushed.',
    registers: [registry],
    async collect() {
      try {
        this.set(await backlog());
      } catch {
        // A scrape while the database is unreachable keeps the last value; /readyz reports the outage.
      }
    },
  });
  return {
    messagesSent: new Counter({
      name: 'core_messages_sent_total',
      help: 'SendMessage calls that stored a message or returned an earlier one.',
      labelNames: ['result'],
      registers: [registry],
    }),
    publishes: new Counter({
      name: 'core_push_publishes_total',
      help: 'Push-bus publishes to connect nodes, by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    outboxRetries: new Counter({
      name: 'core_outbox_retries_total',
      help: 'Outbox rows rescheduled after a failed publish.',
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'core_message_delivery_latency_seconds',
      help: 'Time from a message commit to the push bus accepting its pushes.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
