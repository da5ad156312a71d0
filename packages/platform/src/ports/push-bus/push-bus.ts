// PushBus: carries pushes from core's outbox relay to connect nodes, one address
// (queue) per node.
//
// Contract (every adapter passes push-bus.contract.ts):
// - `publish(node, body)` resolves only once the bus has taken responsibility for
//   the message (for RabbitMQ: the publisher confirm). It resolves `unroutable`
//   when no consumer address exists for that node (the node is gone): the caller
//   treats its devices as offline. It rejects when the outcome is unknown or
//   failed; the caller retries later (the outbox keeps the row).
// - Messages to one node are delivered in publish order, at least once. Consumers
//   must tolerate duplicates (connect dedupes by message id per connection).
// - A consumer's handler resolving means "done with it" (ack); rejecting means
//   "redeliver later", up to the adapter's delivery limit, after which the message
//   is dead-lettered (a poison message never blocks the queue).
// - `capabilities` says what survives a crash (in-process adapters lose
//   everything not yet consumed, which is fine because sync is the truth) and
//   the delivery limit. The contract suite reads it instead of the adapter's class.
// - Closing a subscription never loses a message silently: a later publish to
//   that node either resolves `unroutable` or reaches the node's next consumer,
//   together with whatever the closed consumer had not handled.
// - `backlog(node)` counts the pushes waiting for the node and not yet handed to
//   its consumer (the operator's "queue depth"); undefined when the node has no
//   address. It is a reading for metrics, not a synchronisation point.

export interface PushBusCapabilities {
  /** Published messages survive a restart of the publishing or consuming process. */
  durable: boolean;
  /** Messages to one node arrive in publish order. */
  orderedPerNode: boolean;
  /**
   * How many times a handler sees one message at most: the first delivery plus
   * redeliveries after rejections. The message is dead-lettered after that.
   */
  deliveryLimit: number;
}

export type PublishOutcome = 'delivered' | 'unroutable';

export interface PushMessage {
  /** Unique id of this push, for dedupe and logs. */
  id: string;
  body: Uint8Array;
}

export type PushHandler = (message: PushMessage) => Promise<void>;

export interface PushSubscription {
  /** Stops consuming; messages not yet handled stay for the next consumer. */
  close(): Promise<void>;
}

export interface PushBus {
  readonly capabilities: PushBusCapabilities;
  /** Creates the node's address if needed and starts handling its messages. */
  consume(nodeId: string, handler: PushHandler): Promise<PushSubscription>;
  publish(nodeId: string, message: PushMessage): Promise<PublishOutcome>;
  /** Pushes waiting for the node, not yet handed to its consumer; undefined when it has no address. */
  backlog(nodeId: string): Promise<number | undefined>;
  close(): Promise<void>;
}
