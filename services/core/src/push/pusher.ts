// Pusher: turns "these device routes should see this frame" into push-bus
// messages, one PushEnvelope per connect node with every target on that node, so
// the frame is published once per node however many devices it reaches. Shared by
// the outbox relay (messages) and receipts.
import { encodeMessage, internalV1, type connectV1 } from '@im-mesh/contracts';
import type { DeviceRoute, PresenceRegistry, PushBus } from '@im-mesh/platform';
import type { CoreMetrics } from '../core-metrics.js';

export type PushKind = 'message' | 'receipt' | 'typing' | 'hidden';

export interface PushResult {
  /** Nodes whose queue accepted the envelope. */
  delivered: number;
  /** Nodes that no longer exist: their devices are offline and will sync. */
  unroutable: number;
}

export class Pusher {
  constructor(
    private readonly presence: PresenceRegistry,
    private readonly bus: PushBus,
    private readonly metrics: CoreMetrics,
  ) {}

  /** Live routes of each user (users without any are absent). */
  routesOf(userIds: readonly string[]): Promise<Map<string, DeviceRoute[]>> {
    return this.presence.routesOf([...new Set(userIds)]);
  }

  /**
   * Publishes `frame` to every route, one envelope per node, all nodes at once.
   * Resolves when every publish resolved; rejects with the first failure after all
   * have settled (the caller retries the whole push: consumers dedupe by id).
   */
  async publish(kind: PushKind, pushId: string, routes: readonly DeviceRoute[], frame: connectV1.ServerFrame): Promise<PushResult> {
    const byNode = new Map<string, internalV1.PushTarget[]>();
    for (const route of routes) {
      const targets = byNode.get(route.nodeId) ?? [];
      targets.push({ userId: route.userId, deviceId: route.deviceId, connectionId: route.connectionId });
      byNode.set(route.nodeId, targets);
    }
    const outcomes = await Promise.allSettled(
      [...byNode].map(([nodeId, targets]) =>
        this.bus.publish(nodeId, { id: pushId, body: encodeMessage(internalV1.PushEnvelope, { targets, frame, forwardedAck: undefined, revocation: undefined }) }),
      ),
    );
    const result: PushResult = { delivered: 0, unroutable: 0 };
    let failure: unknown;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        failure ??= outcome.reason;
        this.metrics.publishes.inc({ kind, outcome: 'failed' });
      } else {
        result[outcome.value] += 1;
        this.metrics.publishes.inc({ kind, outcome: outcome.value });
      }
    }
    if (failure !== undefined) throw failure;
    return result;
  }
}
