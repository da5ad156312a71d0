// The push consumer: takes this node's pushes from the bus and writes them to the
// target connections. A PushEnvelope names its targets (user, device,
// connection); a target gets the frame only if that connection is still here and
// still belongs to that user and device. The frame is encoded once per envelope
// and the bytes shared by every WebSocket target. Message frames are deduplicated
// per connection (the bus delivers at least once) and remembered until acked.
// The handler resolves as soon as the frames are written: the bus ack never waits
// for clients (ARCHITECTURE.md, delivery path step 4).
import { connectV1, internalV1 } from '@im-mesh/contracts';
import type { Logger, PushBus, PushMessage, PushSubscription } from '@im-mesh/platform';
import type { ConnectMetrics } from '../metrics.js';
import type { FrameBytes } from '../sessions/client-session.js';
import type { ConnectionHub } from '../sessions/connection-hub.js';

export interface PushConsumerOptions {
  bus: PushBus;
  hub: ConnectionHub;
  metrics: ConnectMetrics;
  logger: Logger;
}

/** Starts consuming the node's pushes; close the subscription to stop. */
export function consumePushes(options: PushConsumerOptions): Promise<PushSubscription> {
  const { bus, hub } = options;
  return bus.consume(hub.nodeId, (message) => {
    deliverPush(message, options);
    return Promise.resolve();
  });
}

/** Writes one push to its local targets. Never throws: a bad push is logged and dropped. */
export function deliverPush(message: PushMessage, options: Omit<PushConsumerOptions, 'bus'>): void {
  const { hub, metrics, logger } = options;
  let envelope: internalV1.PushEnvelope;
  try {
    envelope = internalV1.PushEnvelope.decode(message.body);
  } catch (error) {
    // Redelivering an undecodable body would fail the same way forever.
    logger.error({ err: error, pushId: message.id }, 'undecodable push envelope dropped');
    return;
  }
  const frame = envelope.frame;
  if (!frame?.kind) {
    logger.error({ pushId: message.id }, 'push envelope without a frame dropped');
    return;
  }
  let encoded: Uint8Array | undefined;
  const bytes: FrameBytes = () => (encoded ??= connectV1.ServerFrame.encode(frame).finish());
  const pushed = frame.kind.$case === 'message' ? frame.kind.value : undefined;

  for (const target of envelope.targets) {
    const session = hub.find(target.connectionId);
    const identity = session?.identity;
    if (!session || !identity || identity.userId !== target.userId || identity.deviceId !== target.deviceId) {
      // Gone, replaced, or a route from before a restart: the client syncs on reconnect.
      metrics.pushTargetsSkipped.inc({ reason: 'not_connected' });
      continue;
    }
    if (pushed) {
      if (!session.ledger.firstSight(pushed.messageId)) {
        metrics.pushTargetsSkipped.inc({ reason: 'duplicate' });
        continue;
      }
      session.ledger.awaitAck(pushed.messageId, { conversationId: pushed.conversationId, seq: pushed.seq });
    }
    session.send(frame, bytes);
  }
}
