// Prometheus metrics of the push bus, read at scrape time from the adapter, so
// the adapters stay free of any metrics registry. Every process with a bus gets
// the RabbitMQ totals (publishes, confirms, returns, nacks, redeliveries); a
// connect node also gets the depth of its own queue, the first number to look at
// when pushes arrive late.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PushBus } from '../ports/push-bus/push-bus.js';
import { RabbitMqPushBus, type RabbitMqPushBusCounters } from '../ports/push-bus/rabbitmq-push-bus.js';

/** A scrape must not hang on a broker that does not answer. */
const BACKLOG_READ_TIMEOUT_MS = 1_000;

const EVENTS: Array<[keyof RabbitMqPushBusCounters, string]> = [
  ['published', 'published'],
  ['confirmed', 'confirmed'],
  ['returned', 'returned_unroutable'],
  ['nacked', 'nacked'],
  ['lost', 'lost_unconfirmed'],
  ['timedOut', 'timed_out'],
  ['received', 'received'],
  ['acked', 'acked'],
  ['requeued', 'requeued'],
];

export interface PushBusMetricsOptions {
  /** The node whose queue depth to report (connect nodes); none for publishers only. */
  nodeId?: string;
}

export function registerPushBusMetrics(registry: Registry, bus: PushBus, options: PushBusMetricsOptions = {}): void {
  if (bus instanceof RabbitMqPushBus) {
    new Counter({
      name: 'push_bus_events_total',
      help: 'RabbitMQ push-bus events of this process: published, confirmed, returned_unroutable, nacked, lost_unconfirmed, timed_out, received, acked, requeued.',
      labelNames: ['event'],
      registers: [registry],
      collect() {
        const counters = bus.counters;
        this.reset();
        for (const [field, event] of EVENTS) this.inc({ event }, counters[field]);
      },
    });
    new Counter({
      name: 'push_bus_reconnects_total',
      help: 'Connections to RabbitMQ re-established after a loss.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(bus.counters.reconnects);
      },
    });
  }
  const { nodeId } = options;
  if (nodeId !== undefined) {
    new Gauge({
      name: 'push_bus_node_queue_depth',
      help: "Pushes waiting in this node's queue, not yet handed to the node (ready messages; a broker outage keeps the last value).",
      registers: [registry],
      async collect() {
        let timer: NodeJS.Timeout | undefined;
        try {
          const depth = await Promise.race([
            bus.backlog(nodeId),
            new Promise<never>((_resolve, reject) => {
              timer = setTimeout(() => reject(new Error('backlog read timed out')), BACKLOG_READ_TIMEOUT_MS);
            }),
          ]);
          this.set(depth ?? 0);
        } catch {
          // Kept at the last value, as the help says; /readyz reports the outage.
        } finally {
          clearTimeout(timer);
        }
      },
    });
  }
}
