// PushBus over RabbitMQ (amqplib 2.x), for several core and connect processes.
//
// Topology (rabbitmq-push-topology.ts): a durable direct exchange `im.push`;
// per connect node a durable quorum queue `im.push.<nodeId>` bound with the node
// id, with an explicit x-delivery-limit, at-least-once dead-lettering into the
// `im.push.dead-letter` exchange and queue, reject-publish overflow, a single
// active consumer, and x-expires: a dead node's queue disappears a while after
// its consumer left (its clients reconnect elsewhere and sync from the database).
//
// Publishing (rabbitmq-publisher.ts): persistent, mandatory messages on a
// confirm channel with a bounded in-flight window. 'delivered' means the broker
// confirmed; 'unroutable' means it returned the message (no queue for that
// node). Nack, timeout and a lost channel or connection reject.
//
// Unconfirmed publishes at a drop are rejected, not republished by the adapter.
// Their outcome is unknown (the broker may have queued them), and the caller
// already holds each one durably: the outbox relay keeps the row, retries with
// backoff and holds back the conversation's later rows, so it republishes in
// per-conversation order and survives a crash of this process too. Republishing
// here as well would send the same messages twice per drop and report
// 'delivered' for publishes the caller may already have retried. Duplicates
// from the unknown outcomes are fine: consumers dedupe by push id.
//
// Consuming (rabbitmq-node-consumer.ts): per-consumer prefetch, manual acks
// after the handler resolves (handlers must not wait for client acks: the
// broker's consumer timeout would requeue them), nack with requeue on
// rejection. Per-node order holds while handlers resolve; a rejected push is
// redelivered after the ones already prefetched.
//
// Connection (rabbitmq-link.ts): one per bus instance, reconnected with
// backoff; publishers and consumers open new channels and declare their
// topology again. A blocked connection (`connection.blocked`) also stalls acks,
// so a process that publishes and consumes heavily should open two buses.
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import type { ReadinessCheck } from '../../ops/ops-http.js';
import type { PublishOutcome, PushBus, PushBusCapabilities, PushHandler, PushMessage, PushSubscription } from './push-bus.js';
import { DEFAULT_RABBITMQ_URL, RabbitMqLink } from './rabbitmq-link.js';
import { RabbitMqNodeConsumer } from './rabbitmq-node-consumer.js';
import { RabbitMqPublisher } from './rabbitmq-publisher.js';
import { emptyCounters, type RabbitMqPushBusCounters } from './rabbitmq-push-counters.js';
import { assertNodeId, queueOfNode, type PushTopology } from './rabbitmq-push-topology.js';

export { DEFAULT_RABBITMQ_URL, redactAmqpUrl } from './rabbitmq-link.js';
export type { RabbitMqPushBusCounters } from './rabbitmq-push-counters.js';

export interface RabbitMqPushBusOptions {
  /** amqp:// or amqps:// URL; RABBITMQ_URL or amqp://guest:guest@127.0.0.1:5672 when absent. */
  url?: string;
  /** The exchange; queues are named after it. `im.push` by default; tests use their own. */
  exchange?: string;
  /** How many times a handler sees one push at most before it is dead-lettered. 5 by default. */
  deliveryLimit?: number;
  /** Milliseconds a node queue outlives its last consumer. 15 minutes by default. */
  queueExpiresMs?: number;
  /** Pushes one node queue holds (a quorum queue takes one more); later publishes are refused. 100,000 by default. */
  maxQueueLength?: number;
  /** Dead-lettered pushes kept (oldest dropped first). 100,000 by default. */
  deadLetterMaxLength?: number;
  /** Milliseconds an unused dead-letter queue survives; forever by default. */
  deadLetterExpiresMs?: number;
  /** Deliveries the broker sends a consumer ahead of its acks. 64 by default. */
  prefetch?: number;
  /** Publishes awaiting their confirm at most; later callers wait. 256 by default. */
  maxInFlight?: number;
  /** Milliseconds from publish() to its outcome, waiting for a connection or unblock included. 10,000 by default. */
  publishTimeoutMs?: number;
  /** AMQP heartbeat unless the URL sets one. 10 by default. */
  heartbeatSeconds?: number;
  /** Milliseconds to establish a connection. 5,000 by default. */
  connectTimeoutMs?: number;
  /** First reconnect pause; it doubles up to `reconnectMaxDelayMs` (5,000). 100 by default. */
  reconnectDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Shown in the broker's connection list, e.g. "core-1:push". */
  connectionName?: string;
  logger?: Logger;
  /** Told about each new connection; fault tests use it to cut the socket. */
  onConnection?: (connection: ChannelModel) => void;
  /** Told about each new channel: the publishing one (no node id) or a node's consuming one. */
  onChannel?: (channel: Channel | ConfirmChannel, nodeId?: string) => void;
}

export class RabbitMqPushBus implements PushBus {
  readonly capabilities: PushBusCapabilities;
  private readonly consumers = new Map<string, RabbitMqNodeConsumer>();
  private readonly publisher: RabbitMqPublisher;
  private readonly counts = emptyCounters();
  private closed = false;

  private constructor(
    private readonly link: RabbitMqLink,
    private readonly topology: PushTopology,
    private readonly options: RabbitMqPushBusOptions,
  ) {
    this.capabilities = { durable: true, orderedPerNode: true, deliveryLimit: topology.deliveryLimit };
    this.publisher = new RabbitMqPublisher(
      link,
      {
        topology,
        maxInFlight: options.maxInFlight ?? 256,
        publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
        channelRetryDelayMs: options.reconnectDelayMs ?? 100,
        logger: options.logger,
        onChannel: options.onChannel,
      },
      this.counts,
    );
  }

  /** Connects and returns the bus; rejects naming the (redacted) URL when RabbitMQ is unreachable. */
  static async open(options: RabbitMqPushBusOptions = {}): Promise<RabbitMqPushBus> {
    const deliveryLimit = options.deliveryLimit ?? 5;
    if (!Number.isInteger(deliveryLimit) || deliveryLimit < 2) throw new Error('the push delivery limit must be an integer of at least 2');
    const topology: PushTopology = {
      exchange: options.exchange ?? 'im.push',
      deliveryLimit,
      queueExpiresMs: options.queueExpiresMs ?? 15 * 60_000,
      maxQueueLength: options.maxQueueLength ?? 100_000,
      deadLetterMaxLength: options.deadLetterMaxLength ?? 100_000,
      deadLetterExpiresMs: options.deadLetterExpiresMs,
    };
    const link = await RabbitMqLink.open({
      url: options.url ?? process.env.RABBITMQ_URL ?? DEFAULT_RABBITMQ_URL,
      connectionName: options.connectionName ?? `im-push:${process.pid}`,
      heartbeatSeconds: options.heartbeatSeconds ?? 10,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      reconnectInitialDelayMs: options.reconnectDelayMs ?? 100,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 5_000,
      logger: options.logger,
      onConnection: options.onConnection,
    });
    return new RabbitMqPushBus(link, topology, options);
  }

  /**
   * Declares the node's queue and starts consuming it. A second consume() of
   * the same node on this bus replaces the first, as in the in-process bus.
   */
  async consume(nodeId: string, handler: PushHandler): Promise<PushSubscription> {
    if (this.closed) throw new Error('the push bus is closed');
    assertNodeId(this.topology, nodeId);
    await this.consumers.get(nodeId)?.close();
    const consumer = new RabbitMqNodeConsumer(
      nodeId,
      handler,
      this.link,
      {
        topology: this.topology,
        prefetch: this.options.prefetch ?? 64,
        retryDelayMs: this.options.reconnectDelayMs ?? 100,
        retryMaxDelayMs: this.options.reconnectMaxDelayMs ?? 5_000,
        logger: this.options.logger,
        onChannel: this.options.onChannel,
      },
      this.counts,
      (closed) => {
        if (this.consumers.get(closed.nodeId) === closed) this.consumers.delete(closed.nodeId);
      },
    );
    this.consumers.set(nodeId, consumer);
    try {
      await consumer.start(this.options.connectTimeoutMs ?? 5_000);
    } catch (error) {
      await consumer.close();
      throw error;
    }
    return consumer;
  }

  async publish(nodeId: string, message: PushMessage): Promise<PublishOutcome> {
    if (this.closed) throw new Error('the push bus is closed');
    assertNodeId(this.topology, nodeId);
    return this.publisher.publish(nodeId, message);
  }

  /**
   * The node queue's ready messages (unacknowledged ones in a consumer's prefetch
   * are not counted), from a passive declare on a short-lived channel: a missing
   * queue closes that channel with 404, which is the "no address" answer.
   */
  async backlog(nodeId: string): Promise<number | undefined> {
    assertNodeId(this.topology, nodeId);
    const connection = this.link.connection;
    if (!connection) throw new Error('no connection to RabbitMQ');
    const channel = await connection.createChannel();
    // A 404 arrives as a channel error event as well as the rejection below.
    channel.on('error', () => undefined);
    try {
      const { messageCount } = await channel.checkQueue(queueOfNode(this.topology, nodeId));
      return messageCount;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** A snapshot of the running totals (confirms, returns, nacks, ...). */
  get counters(): RabbitMqPushBusCounters {
    return { ...this.counts, reconnects: this.link.reconnects };
  }

  /** Whether the bus has a live connection right now. */
  get connected(): boolean {
    return this.link.connection !== undefined;
  }

  /** A /readyz check: fails while the connection is down or publishing is blocked. */
  readiness(name = 'rabbitmq'): ReadinessCheck {
    return {
      name,
      check: async () => {
        if (!this.link.connection) throw new Error('no connection to RabbitMQ');
        if (this.link.blocked) throw new Error('RabbitMQ is blocking publishers');
      },
    };
  }

  /** Stops every consumer (the broker requeues their unacked pushes), fails unconfirmed publishes, disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers.values()].map((consumer) => consumer.close()));
    await this.publisher.close();
    await this.link.close();
  }
}
