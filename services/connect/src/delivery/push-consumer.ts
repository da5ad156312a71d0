// The push consumer: takes this node's pushes from the bus and writes them to the
// target connections. A PushEnvelope names its targets (user, device,
// connection); a target gets the frame only if that connection is still here and
// still belongs to that user and device. The frame is encoded once per envelope
// and the bytes shared by every WebSocket target. Message frames are deduplicated
// per connection (the bus delivers at least once) and remembered until acked.
// The handler resolves as soon as the frames are written: the bus ack never waits
// for clients (ARCHITECTURE.md, delivery path step 4).
// Other connect nodes also send a forwarded Ack RPC (forwarded_ack) for a
// connection held here: it goes through the same dispatch as a local Ack, so it
// acks by id and counts as the connection's heartbeat. Auth sends revocations
// (revocation): the connections of ended sessions close at once.
import { connectV1, encodeMessage, internalV1 } from '@im-mesh/contracts';
import type { Logger, PushBus, PushMessage, PushSubscription } from '@im-mesh/platform';
import type { ConnectMetrics } from '../metrics.js';
import type { FrameBytes } from '../sessions/client-session.js';
import type { ConnectionHub } from '../sessions/connection-hub.js';
import type { Dispatch } from '../sessions/dispatch.js';

export interface PushConsumerOptions {
  bus: PushBus;
  hub: ConnectionHub;
  dispatch: Dispatch;
  metrics: ConnectMetrics;
  logger: Logger;
}

/** Starts consuming the node's pushes; close the subscription to stop. */
export function consumePushes(options: PushConsumerOptions): Promise<PushSubscription> {
  const { bus, hub } = options;
  return bus.consume(hub.nodeId, async (message) => {
    deliverPush(message, options);
  });
}

/**
 * Writes one push to its local targets. Throws for a poison push (an undecodable
 * body, or an envelope carrying nothing this node acts on): the bus then
 * redelivers it up to its delivery limit and dead-letters it, where an operator
 * can inspect it, while the pushes behind it keep flowing.
 */
export function deliverPush(message: PushMessage, options: Omit<PushConsumerOptions, 'bus'>): void {
  const { hub, metrics } = options;
  let envelope: internalV1.PushEnvelope;
  try {
    envelope = internalV1.PushEnvelope.decode(message.body);
  } catch (error) {
    throw new Error(`push ${message.id} is not a PushEnvelope`, { cause: error });
  }
  if (envelope.forwardedAck) {
    applyForwardedAck(envelope.forwardedAck, message.id, options);
    if (!envelope.frame) return;
  }
  if (envelope.revocation) {
    // Auth ended sessions: close this node's connections of them (GoAway, no reconnect).
    const { userId, sessionIds, reason, banned } = envelope.revocation;
    hub.endSessions({ userId, sessionIds, reason, banned });
    if (!envelope.frame) return;
  }
  const frame = envelope.frame;
  if (!frame?.kind) throw new Error(`push ${message.id} carries nothing to act on (no frame, forwarded ack or revocation)`);
  let encoded: Uint8Array | undefined;
  const bytes: FrameBytes = () => (encoded ??= encodeMessage(connectV1.ServerFrame, frame));
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

/**
 * Applies an Ack RPC another node took for a connection held here, if that
 * connection is still here and still the same user's device. Redeliveries are
 * harmless: an id is acked once and watermarks only move up.
 */
function applyForwardedAck(forwarded: internalV1.ForwardedAck, pushId: string, options: Omit<PushConsumerOptions, 'bus'>): void {
  const { hub, dispatch, logger } = options;
  const session = hub.find(forwarded.connectionId);
  const identity = session?.identity;
  if (!session || !identity || identity.userId !== forwarded.userId || identity.deviceId !== forwarded.deviceId) {
    // Closed or replaced since the other node read presence: nothing to ack.
    logger.debug({ pushId, connectionId: forwarded.connectionId }, 'forwarded ack for a connection not held here ignored');
    return;
  }
  const frame: connectV1.ClientFrame = { kind: { $case: 'ack', value: forwarded.ack ?? { messageIds: [], delivered: [] } } };
  // The RPC was already answered: a refusal (rate limit) can only reach the client on its stream.
  dispatch(session, frame).catch((error: unknown) => {
    logger.warn({ err: error, pushId, connectionId: forwarded.connectionId }, 'forwarded ack failed');
  });
}
