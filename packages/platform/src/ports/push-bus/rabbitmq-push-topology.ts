// The broker objects behind the RabbitMQ push bus and how they are declared.
// Every declaration is idempotent, so it runs again on every new channel: after
// a broker restart or a queue that expired, the next (re)connect brings the
// topology back. Arguments must be identical in every process; a mismatch makes
// the broker refuse the declaration (PRECONDITION_FAILED) and is logged.
import type { Channel } from 'amqplib';

export interface PushTopology {
  /** Durable direct exchange; routing key = node id. */
  exchange: string;
  /** How many times a handler sees one message at most (first delivery included). */
  deliveryLimit: number;
  /** A node queue without consumers is deleted by the broker after this long (x-expires). */
  queueExpiresMs: number;
  /** Messages a node queue holds (a quorum queue takes one more); publishes beyond are nacked (x-overflow: reject-publish). */
  maxQueueLength: number;
  /** Messages the dead-letter queue keeps; the oldest go first. */
  deadLetterMaxLength: number;
  /** Deletes an unused dead-letter queue after this long; absent means never (tests set it). */
  deadLetterExpiresMs?: number;
}

/** Names derived from the exchange, so a test with its own exchange owns every object. */
export function deadLetterName(topology: PushTopology): string {
  return `${topology.exchange}.dead-letter`;
}

export function queueOfNode(topology: PushTopology, nodeId: string): string {
  return `${topology.exchange}.${nodeId}`;
}

/**
 * Throws when `nodeId` cannot be a routing key and queue name (AMQP short
 * strings hold 255 bytes) or would collide with the dead-letter queue.
 */
export function assertNodeId(topology: PushTopology, nodeId: string): void {
  if (nodeId.length === 0) throw new Error('a push node id must not be empty');
  if (Buffer.byteLength(queueOfNode(topology, nodeId)) > 255) throw new Error(`push node id "${nodeId.slice(0, 40)}..." is too long for a RabbitMQ queue name`);
  if (queueOfNode(topology, nodeId) === deadLetterName(topology)) throw new Error(`"${nodeId}" is reserved for the dead-letter queue`);
}

/** What publishers need: only the exchange, so they never fight consumers over queue arguments. */
export async function declarePushExchange(channel: Channel, topology: PushTopology): Promise<void> {
  await channel.assertExchange(topology.exchange, 'direct', { durable: true });
}

/** The exchange, the dead-letter exchange and queue, and the node's own queue bound to its id. */
export async function declareNodeQueue(channel: Channel, topology: PushTopology, nodeId: string): Promise<string> {
  const deadLetter = deadLetterName(topology);
  await declarePushExchange(channel, topology);
  // Fanout: dead-lettered messages keep their node id as routing key, and every
  // one of them belongs in the single dead-letter queue.
  await channel.assertExchange(deadLetter, 'fanout', { durable: true });
  await channel.assertQueue(deadLetter, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      // Dropping the oldest poison message beats refusing new ones: a refusing
      // target would keep at-least-once dead-lettering retrying forever.
      'x-max-length': topology.deadLetterMaxLength,
      ...(topology.deadLetterExpiresMs === undefined ? {} : { 'x-expires': topology.deadLetterExpiresMs }),
    },
  });
  await channel.bindQueue(deadLetter, deadLetter, '');

  const queue = queueOfNode(topology, nodeId);
  await channel.assertQueue(queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      // RabbitMQ 3.10 has no default limit. Its limit counts returns, so a
      // message is dead-lettered on the return after the limit: limit + 1
      // deliveries in all, which is what `deliveryLimit` promises.
      'x-delivery-limit': topology.deliveryLimit - 1,
      'x-dead-letter-exchange': deadLetter,
      // At-least-once dead-lettering keeps a poison message in its queue until
      // the dead-letter queue confirmed it; it requires reject-publish overflow.
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
      'x-max-length': topology.maxQueueLength,
      // The node's clients reconnect elsewhere and sync from the database, so
      // a dead node's queue only needs to outlive a restart of that node.
      'x-expires': topology.queueExpiresMs,
      // Two processes started with one node id would otherwise share its
      // messages round-robin and break per-node order; the second one waits.
      'x-single-active-consumer': true,
    },
  });
  await channel.bindQueue(queue, topology.exchange, nodeId);
  return queue;
}
