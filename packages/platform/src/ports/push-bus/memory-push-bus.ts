// In-process PushBus for the all-in-one. Each node has an address (a FIFO) that
// outlives its consumers, like a broker queue, and exactly one drain loop, so
// order per node holds and a replaced consumer can never handle the same message
// twice at once. A rejected handler is retried after a short, growing pause up to
// `deliveryLimit` deliveries, then the message is dropped with a log line, like a
// dead-letter queue. Nothing survives a restart, which is fine: sync is the truth.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { PublishOutcome, PushBus, PushBusCapabilities, PushHandler, PushMessage, PushSubscription } from './push-bus.js';

interface Consumer {
  handler: PushHandler;
  closed: boolean;
}

interface NodeAddress {
  pending: PushMessage[];
  consumer: Consumer | undefined;
  /** Failed deliveries of pending[0]. */
  attempts: number;
  draining: boolean;
}

export class MemoryPushBus implements PushBus {
  readonly capabilities: PushBusCapabilities;
  private readonly nodes = new Map<string, NodeAddress>();
  private closed = false;

  constructor(
    private readonly logger?: Logger,
    private readonly deliveryLimit = 5,
    /** Upper bound of a node's queue; publishes beyond it fail (back-pressure). */
    private readonly maxQueued = 100_000,
    /** Pause before the n-th redelivery is n times this, in milliseconds. */
    private readonly redeliveryDelayMs = 20,
  ) {
    this.capabilities = { durable: false, orderedPerNode: true, deliveryLimit };
  }

  async consume(nodeId: string, handler: PushHandler): Promise<PushSubscription> {
    if (this.closed) throw new Error('the push bus is closed');
    let address = this.nodes.get(nodeId);
    if (!address) {
      address = { pending: [], consumer: undefined, attempts: 0, draining: false };
      this.nodes.set(nodeId, address);
    }
    // A second consumer of one node replaces the first; the drain loop picks the
    // new one for the next message, so nothing is handled by both.
    if (address.consumer) address.consumer.closed = true;
    const consumer: Consumer = { handler, closed: false };
    address.consumer = consumer;
    this.drain(address);
    const owner = address;
    return {
      close: async () => {
        consumer.closed = true;
        if (owner.consumer === consumer) owner.consumer = undefined;
      },
    };
  }

  async publish(nodeId: string, message: PushMessage): Promise<PublishOutcome> {
    if (this.closed) throw new Error('the push bus is closed');
    const address = this.nodes.get(nodeId);
    if (!address) return 'unroutable';
    if (address.pending.length >= this.maxQueued) throw new Error(`push queue of node ${nodeId} is full`);
    address.pending.push(message);
    this.drain(address);
    return 'delivered';
  }

  async backlog(nodeId: string): Promise<number | undefined> {
    return this.nodes.get(nodeId)?.pending.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const address of this.nodes.values()) {
      if (address.consumer) address.consumer.closed = true;
      address.consumer = undefined;
    }
    this.nodes.clear();
  }

  private drain(address: NodeAddress): void {
    if (address.draining) return;
    address.draining = true;
    // Handle on a later tick so publish() returns before the consumer runs, as
    // with a real broker.
    setImmediate(() => void this.run(address));
  }

  private async run(address: NodeAddress): Promise<void> {
    try {
      for (;;) {
        const consumer = address.consumer;
        const message = address.pending[0];
        if (this.closed || !consumer || consumer.closed || !message) return;
        try {
          await consumer.handler(message);
          address.pending.shift();
          address.attempts = 0;
        } catch (error) {
          address.attempts += 1;
          if (address.attempts >= this.deliveryLimit) {
            this.logger?.error({ err: error, pushId: message.id }, 'push dropped after reaching the delivery limit');
            address.pending.shift();
            address.attempts = 0;
          } else {
            // Unreferenced: a pause before a retry must not keep the process alive.
            await sleep(this.redeliveryDelayMs * address.attempts, undefined, { ref: false });
          }
        }
      }
    } finally {
      // The loop only stops on a synchronous check, so no publish or consume can
      // slip in between that check and this line unnoticed.
      address.draining = false;
    }
  }
}
