// Running totals kept by the RabbitMQ push bus, read through `bus.counters`.
// The services own their Prometheus metrics; these plain numbers let them (and
// the fault tests) see confirms, returns and nacks without the adapter knowing
// about any metrics registry.

export interface RabbitMqPushBusCounters {
  /** Messages written to the broker (each attempt once). */
  published: number;
  /** Publisher confirms that resolved a publish as 'delivered'. */
  confirmed: number;
  /** basic.return frames: mandatory publishes no queue was bound for. */
  returned: number;
  /** basic.nack frames: the broker refused a message (e.g. its queue was full). */
  nacked: number;
  /** Publishes rejected because their channel or connection went before the confirm. */
  lost: number;
  /** Publishes rejected because they waited longer than the publish timeout. */
  timedOut: number;
  /** Connections re-established after a loss. */
  reconnects: number;
  /** Deliveries handed to consumers of this bus. */
  received: number;
  /** Deliveries acknowledged after their handler resolved. */
  acked: number;
  /** Deliveries returned to their queue after their handler rejected. */
  requeued: number;
}

export function emptyCounters(): RabbitMqPushBusCounters {
  return { published: 0, confirmed: 0, returned: 0, nacked: 0, lost: 0, timedOut: 0, reconnects: 0, received: 0, acked: 0, requeued: 0 };
}
