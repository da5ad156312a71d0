// The publishing half of the RabbitMQ push bus: one confirm channel, a FIFO of
// publishes waiting for it, and a bounded window of publishes awaiting their
// confirm. Publishes leave in call order and each caller learns its own
// outcome: 'delivered' on the confirm, 'unroutable' when a basic.return for
// that message came first (an unroutable mandatory publish is returned AND
// confirmed), or a rejection on nack, on losing the channel before the
// confirm, or after the publish timeout. Nothing is republished here: the
// caller still holds the message (the outbox row) and publishes it again.
import type { ConfirmChannel, Message } from 'amqplib';
import type { Logger } from 'pino';
import type { PublishOutcome, PushMessage } from './push-bus.js';
import type { RabbitMqPushBusCounters } from './rabbitmq-push-counters.js';
import { declarePushExchange, type PushTopology } from './rabbitmq-push-topology.js';
import { closeQuietly, type RabbitMqLink } from './rabbitmq-link.js';

/**
 * Correlates a basic.return with its publish. The push id alone is ambiguous:
 * one push goes to several nodes at once, and a retry may overlap the original.
 */
export const PUBLISH_SEQUENCE_HEADER = 'im-publish-seq';

export interface RabbitMqPublisherOptions {
  topology: PushTopology;
  /** Publishes sent and not yet confirmed, at most; later callers wait their turn. */
  maxInFlight: number;
  /** Milliseconds from the call to the confirm, waiting included. */
  publishTimeoutMs: number;
  /** Pause before opening a channel again after the broker refused one. */
  channelRetryDelayMs: number;
  logger?: Logger;
  onChannel?: (channel: ConfirmChannel) => void;
}

interface PublishRequest {
  routingKey: string;
  message: PushMessage;
  resolve: (outcome: PublishOutcome) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  state: 'waiting' | 'sent' | 'settled';
  sequence: number;
  returned: boolean;
}

export class RabbitMqPublisher {
  private readonly waiting: PublishRequest[] = [];
  /** Sent on the current channel, by publish sequence. */
  private readonly inFlight = new Map<number, PublishRequest>();
  private channel: ConfirmChannel | undefined;
  private opening = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextSequence = 1;
  private closed = false;
  private readonly stopListening: () => void;

  constructor(
    private readonly link: RabbitMqLink,
    private readonly options: RabbitMqPublisherOptions,
    private readonly counters: RabbitMqPushBusCounters,
  ) {
    this.stopListening = link.subscribe((event) => {
      if (event === 'connected') {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
      }
      this.pump();
    });
  }

  publish(routingKey: string, message: PushMessage): Promise<PublishOutcome> {
    if (this.closed) return Promise.reject(new Error('the push bus is closed'));
    return new Promise((resolve, reject) => {
      const request: PublishRequest = { routingKey, message, resolve, reject, timer: undefined, state: 'waiting', sequence: 0, returned: false };
      request.timer = setTimeout(() => this.timedOut(request), this.options.publishTimeoutMs);
      this.waiting.push(request);
      this.pump();
    });
  }

  /** Rejects everything not yet confirmed and closes the channel. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopListening();
    clearTimeout(this.retryTimer);
    const error = new Error('the push bus closed before the broker confirmed this push');
    for (const request of this.waiting.splice(0)) this.settle(request, error);
    for (const request of this.inFlight.values()) this.settle(request, error);
    this.inFlight.clear();
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await closeQuietly(channel);
  }

  /** Sends waiting publishes while there is a channel, no block and room in the window. */
  private pump(): void {
    if (this.closed || this.waiting.length === 0) return;
    const channel = this.channel;
    if (!channel) {
      this.openChannel();
      return;
    }
    if (this.link.blocked) return;
    while (this.channel === channel && this.waiting.length > 0 && this.inFlight.size < this.options.maxInFlight) {
      this.send(channel, this.waiting.shift() as PublishRequest);
    }
  }

  private openChannel(): void {
    if (this.opening || this.retryTimer) return;
    // Without a connection the link's 'connected' event calls pump() again.
    const connection = this.link.connection;
    if (!connection) return;
    this.opening = true;
    this.createChannel(connection.createConfirmChannel()).then(
      (channel) => {
        this.opening = false;
        if (this.closed) {
          void closeQuietly(channel);
          return;
        }
        this.channel = channel;
        this.options.onChannel?.(channel);
        this.pump();
      },
      (error: unknown) => {
        this.opening = false;
        if (this.closed) return;
        this.options.logger?.warn({ err: error }, 'cannot open a RabbitMQ publishing channel; retrying');
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, this.options.channelRetryDelayMs);
      },
    );
  }

  private async createChannel(opening: Promise<ConfirmChannel>): Promise<ConfirmChannel> {
    const channel = await opening;
    let failure: Error | undefined;
    channel.on('error', (error: Error) => {
      failure = error;
      this.options.logger?.warn({ err: error }, 'RabbitMQ publishing channel failed');
    });
    // Prepended so the in-flight publishes are rejected here, with the reason,
    // before amqplib hands each confirm callback a bare "channel closed".
    channel.prependListener('close', () => this.discard(channel, failure ?? new Error('the channel or its connection closed')));
    channel.on('return', (returned: Message) => this.returned(channel, returned));
    await declarePushExchange(channel, this.options.topology);
    return channel;
  }

  private send(channel: ConfirmChannel, request: PublishRequest): void {
    const sequence = this.nextSequence++;
    request.sequence = sequence;
    request.state = 'sent';
    this.inFlight.set(sequence, request);
    const { body, id } = request.message;
    try {
      // The return value (write buffer full) is not awaited: the window bounds what is buffered.
      channel.publish(
        this.options.topology.exchange,
        request.routingKey,
        Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        { persistent: true, mandatory: true, messageId: id, contentType: 'application/octet-stream', headers: { [PUBLISH_SEQUENCE_HEADER]: sequence } },
        (error: unknown) => this.confirmed(request, error),
      );
    } catch (error) {
      // amqplib throws when the channel closed between our check and the write;
      // the message never left, so it goes back to the head of the line.
      this.inFlight.delete(sequence);
      request.state = 'waiting';
      this.waiting.unshift(request);
      this.discard(channel, error as Error);
      return;
    }
    this.counters.published += 1;
  }

  private returned(channel: ConfirmChannel, returned: Message): void {
    this.counters.returned += 1;
    if (channel !== this.channel) return;
    const request = this.inFlight.get(Number(returned.properties.headers?.[PUBLISH_SEQUENCE_HEADER]));
    // The return always precedes the confirm of the same message on its channel.
    if (request) request.returned = true;
  }

  private confirmed(request: PublishRequest, error: unknown): void {
    // Already settled by a timeout, a lost channel or close().
    if (request.state !== 'sent' || this.inFlight.get(request.sequence) !== request) return;
    this.inFlight.delete(request.sequence);
    if (error) {
      this.counters.nacked += 1;
      this.settle(request, new Error(`RabbitMQ refused push ${request.message.id} for node ${request.routingKey} (basic.nack; its queue may be full); publish it again later`));
    } else if (request.returned) {
      this.settle(request, undefined, 'unroutable');
    } else {
      this.counters.confirmed += 1;
      this.settle(request, undefined, 'delivered');
    }
    this.pump();
  }

  private timedOut(request: PublishRequest): void {
    const { id } = request.message;
    const ms = this.options.publishTimeoutMs;
    if (request.state === 'waiting') {
      this.waiting.splice(this.waiting.indexOf(request), 1);
      const why = this.link.blocked ? 'the broker is blocking publishers (connection.blocked)'
        : !this.channel ? 'there is no usable connection to the broker' : 'the in-flight window stayed full';
      this.counters.timedOut += 1;
      this.settle(request, new Error(`push ${id} was not published within ${ms} ms: ${why}; publish it again later`));
    } else if (request.state === 'sent') {
      this.counters.timedOut += 1;
      this.inFlight.delete(request.sequence);
      const error = new Error(`RabbitMQ did not confirm push ${id} within ${ms} ms; it may or may not be queued, publish it again`);
      this.settle(request, error);
      // A confirm this late means the channel (or the broker behind it) is
      // stuck. A new channel starts clean, and the old one's unconfirmed
      // slots, which amqplib keeps for the channel's lifetime, go with it.
      const channel = this.channel;
      if (channel) {
        this.discard(channel, error);
        void closeQuietly(channel);
      }
    }
  }

  /** Forgets a channel that closed or is suspect; its unconfirmed publishes fail. */
  private discard(channel: ConfirmChannel, cause: Error): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    for (const request of this.inFlight.values()) {
      this.counters.lost += 1;
      this.settle(request, new Error(`RabbitMQ connection or channel lost before it confirmed push ${request.message.id}; it may or may not be queued, publish it again`, { cause }));
    }
    this.inFlight.clear();
    // On the next turn, so that a connection going down has been noticed by
    // the link and we wait for its reconnect instead of hitting the dead socket.
    if (this.waiting.length > 0) setImmediate(() => this.pump());
  }

  private settle(request: PublishRequest, error: Error | undefined, outcome?: PublishOutcome): void {
    if (request.state === 'settled') return;
    request.state = 'settled';
    clearTimeout(request.timer);
    if (error) request.reject(error);
    else request.resolve(outcome as PublishOutcome);
  }
}
