// One connect node's subscription to its RabbitMQ queue. It owns a channel with
// a per-consumer prefetch and manual acks, hands deliveries to the handler one
// at a time in delivery order, acks when the handler resolves and nacks with
// requeue when it rejects (the quorum queue counts deliveries and dead-letters
// at the limit). When its channel dies (channel error, lost connection,
// cancelled consumer) it declares its queue again on a new channel and resumes;
// whatever it had not acked is redelivered by the broker, possibly twice.
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { PushHandler, PushSubscription } from './push-bus.js';
import type { RabbitMqPushBusCounters } from './rabbitmq-push-counters.js';
import { declareNodeQueue, type PushTopology } from './rabbitmq-push-topology.js';
import { closeQuietly, type RabbitMqLink } from './rabbitmq-link.js';

export interface RabbitMqNodeConsumerOptions {
  topology: PushTopology;
  /** Unacked deliveries the broker sends ahead of the handler. */
  prefetch: number;
  /** First pause before re-attaching after the broker refused a channel; doubles up to `retryMaxDelayMs`. */
  retryDelayMs: number;
  retryMaxDelayMs: number;
  logger?: Logger;
  onChannel?: (channel: Channel, nodeId: string) => void;
}

/** One channel's life: deliveries from a dead channel are neither handled nor acked. */
interface Attachment {
  channel: Channel;
  alive: boolean;
  /** The handler runs for one delivery at a time, in delivery order. */
  queue: Promise<void>;
}

export class RabbitMqNodeConsumer implements PushSubscription {
  private attachment: Attachment | undefined;
  private attaching = false;
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly stopListening: () => void;

  constructor(
    readonly nodeId: string,
    private readonly handler: PushHandler,
    private readonly link: RabbitMqLink,
    private readonly options: RabbitMqNodeConsumerOptions,
    private readonly counters: RabbitMqPushBusCounters,
    /** Told when the subscription is closed, so the bus forgets it. */
    private readonly onClosed: (consumer: RabbitMqNodeConsumer) => void,
  ) {
    this.stopListening = link.subscribe((event) => {
      if (event !== 'connected') return;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.ensureAttached();
    });
  }

  /** The first attach: rejects when no connection comes within `timeoutMs` or the queue cannot be declared. */
  async start(timeoutMs: number): Promise<void> {
    const connection = await this.link.waitForConnection(timeoutMs);
    this.attaching = true;
    try {
      await this.attach(connection);
    } finally {
      this.attaching = false;
    }
  }

  /** Stops consuming; the broker requeues what this consumer had not acked. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    clearTimeout(this.retryTimer);
    this.onClosed(this);
    const attachment = this.attachment;
    this.attachment = undefined;
    if (attachment) {
      // A handler still running for this channel will not ack: its push goes
      // back to the queue for the node's next consumer.
      attachment.alive = false;
      await closeQuietly(attachment.channel);
    }
  }

  private ensureAttached(): void {
    if (this.closed || this.attachment || this.attaching || this.retryTimer) return;
    // Without a connection the link's 'connected' event calls us again.
    const connection = this.link.connection;
    if (!connection) return;
    this.attaching = true;
    this.attach(connection)
      .catch((error: unknown) => {
        if (this.closed) return;
        this.options.logger?.warn({ err: error, nodeId: this.nodeId }, 'cannot resume consuming pushes; retrying');
        this.scheduleRetry();
      })
      .finally(() => {
        this.attaching = false;
      });
  }

  private async attach(connection: ChannelModel): Promise<void> {
    const channel = await connection.createChannel();
    const attachment: Attachment = { channel, alive: true, queue: Promise.resolve() };
    let failure: Error | undefined;
    channel.on('error', (error: Error) => {
      failure = error;
      this.options.logger?.warn({ err: error, nodeId: this.nodeId }, 'RabbitMQ consumer channel failed');
    });
    channel.on('close', () => this.detached(attachment, failure));
    try {
      // Per consumer, never global (a global prefetch is per channel and slower in quorum queues).
      await channel.prefetch(this.options.prefetch, false);
      const queue = await declareNodeQueue(channel, this.options.topology, this.nodeId);
      await channel.consume(queue, (delivery) => this.received(attachment, delivery), { noAck: false });
    } catch (error) {
      attachment.alive = false;
      void closeQuietly(channel);
      throw error;
    }
    if (this.closed) {
      attachment.alive = false;
      await closeQuietly(channel);
      return;
    }
    this.attachment = attachment;
    this.failures = 0;
    this.options.onChannel?.(channel, this.nodeId);
  }

  private received(attachment: Attachment, delivery: ConsumeMessage | null): void {
    if (delivery === null) {
      // The broker cancelled us (the queue was deleted under us): a new
      // channel declares the queue again.
      this.options.logger?.warn({ nodeId: this.nodeId }, 'RabbitMQ cancelled the push consumer; re-attaching');
      void closeQuietly(attachment.channel);
      return;
    }
    this.counters.received += 1;
    attachment.queue = attachment.queue.then(() => this.handle(attachment, delivery));
  }

  private async handle(attachment: Attachment, delivery: ConsumeMessage): Promise<void> {
    // After a close or a dead channel the broker has already requeued this push.
    if (this.closed || !attachment.alive) return;
    const id = delivery.properties.messageId ?? '';
    let failure: unknown;
    let handled = false;
    try {
      await this.handler({ id, body: delivery.content });
      handled = true;
    } catch (error) {
      failure = error;
    }
    if (!attachment.alive) return;
    try {
      if (handled) {
        attachment.channel.ack(delivery);
        this.counters.acked += 1;
      } else {
        const deliveries = Number(delivery.properties.headers?.['x-delivery-count'] ?? 0) + 1;
        this.options.logger?.warn(
          { err: failure, pushId: id, nodeId: this.nodeId, deliveries, deliveryLimit: this.options.topology.deliveryLimit },
          'push handler failed; the broker redelivers it until the delivery limit, then dead-letters it',
        );
        attachment.channel.nack(delivery, false, true);
        this.counters.requeued += 1;
      }
    } catch {
      // The channel closed between the check and the ack: the broker redelivers
      // this push to the next consumer, which is what at-least-once allows.
    }
  }

  private detached(attachment: Attachment, failure: Error | undefined): void {
    attachment.alive = false;
    if (this.attachment !== attachment) return;
    this.attachment = undefined;
    if (this.closed) return;
    this.options.logger?.warn({ err: failure, nodeId: this.nodeId }, 'push consumer channel closed; resuming on a new one');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const delay = Math.min(this.options.retryMaxDelayMs, this.options.retryDelayMs * 2 ** Math.min(this.failures, 20));
    this.failures += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ensureAttached();
    }, delay);
  }
}
