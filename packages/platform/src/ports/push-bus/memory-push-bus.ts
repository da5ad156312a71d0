// In-process PushBus for the all-in-one. Each node has a FIFO handled one message
// at a time (so order per node holds); a rejected handler is retried up to
// `deliveryLimit` times, then the message is dropped with a log line, like a
// dead-letter queue. Nothing survives a restart, which is fine: sync is the truth.
import type { Logger } from 'pino';
import type { PublishOutcome, PushBus, PushHandler, PushMessage, PushSubscription } from './push-bus.js';

interface NodeQueue {
  handler: PushHandler;
  pending: PushMessage[];
  attempts: number;
  running: boolean;
  closed: boolean;
}

export class MemoryPushBus implements PushBus {
  readonly capabilities = { durable: false, orderedPerNode: true } as const;
  private readonly nodes = new Map<string, NodeQueue>();

  constructor(
    private readonly logger?: Logger,
    private readonly deliveryLimit = 5,
    /** Upper bound of a node's queue; publishes beyond it fail (back-pressure). */
    private readonly maxQueued = 100_000,
  ) {}

  async consume(nodeId: string, handler: PushHandler): Promise<PushSubscription> {
    const existing = this.nodes.get(nodeId);
    const queue: NodeQueue = { handler, pending: existing?.pending ?? [], attempts: 0, running: false, closed: false };
    if (existing) existing.closed = true;
    this.nodes.set(nodeId, queue);
    this.drain(queue);
    return {
      close: async () => {
        queue.closed = true;
        if (this.nodes.get(nodeId) === queue) this.nodes.delete(nodeId);
      },
    };
  }

  async publish(nodeId: string, message: PushMessage): Promise<PublishOutcome> {
    const queue = this.nodes.get(nodeId);
    if (!queue || queue.closed) return 'unroutable';
    if (queue.pending.length >= this.maxQueued) throw new Error(`push queue of node ${nodeId} is full`);
    queue.pending.push(message);
    this.drain(queue);
    return 'delivered';
  }

  async close(): Promise<void> {
    for (const queue of this.nodes.values()) queue.closed = true;
    this.nodes.clear();
  }

  private drain(queue: NodeQueue): void {
    if (queue.running || queue.closed) return;
    queue.running = true;
    // Handle on a later tick so publish() returns before the consumer runs, as
    // with a real broker.
    setImmediate(async () => {
      while (!queue.closed && queue.pending.length > 0) {
        const message = queue.pending[0]!;
        try {
          await queue.handler(message);
          queue.pending.shift();
          queue.attempts = 0;
        } catch (error) {
          queue.attempts += 1;
          if (queue.attempts >= this.deliveryLimit) {
            this.logger?.error({ err: error, pushId: message.id }, 'push dropped after reaching the delivery limit');
            queue.pending.shift();
            queue.attempts = 0;
          }
        }
      }
      queue.running = false;
    });
  }
}
