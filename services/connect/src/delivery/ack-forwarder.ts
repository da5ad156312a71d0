// The Ack forwarder: the edge spreads unary Ack RPCs over every connect node, so
// an Ack often reaches a node that does not hold the caller's Subscribe stream.
// That node looks the connection up in presence and forwards the ack over the
// push bus to the node that does (PushEnvelope.forwarded_ack), where it acks by
// id and counts as the stream's heartbeat exactly like a local Ack.
import { type connectV1, internalV1 } from '@im-mesh/contracts';
import { AppError, uuidv7, type Logger, type PresenceRegistry, type PushBus } from '@im-mesh/platform';

export interface AckForwarderOptions {
  /** This node: a route naming it but no local session is stale, not forwardable. */
  nodeId: string;
  presence: PresenceRegistry;
  bus: PushBus;
  logger: Logger;
}

export interface AckCaller {
  userId: string;
  deviceId: string;
}

/**
 * 'forwarded': the node holding the connection has the ack on its bus queue.
 * 'not_found': no live connection with this id belongs to the caller's device.
 */
export type ForwardOutcome = 'forwarded' | 'not_found';

export class AckForwarder {
  constructor(private readonly options: AckForwarderOptions) {}

  /**
   * Forwards the caller's ack to the node holding `connectionId`. Only the
   * caller's own device's route is considered, so nobody can reach another
   * user's connection through it. Throws UNAVAILABLE when presence or the bus
   * cannot say, so the client retries rather than reconnecting.
   */
  async forward(caller: AckCaller, connectionId: string, ack: connectV1.Ack): Promise<ForwardOutcome> {
    const { nodeId, presence, bus, logger } = this.options;
    let routes;
    try {
      routes = (await presence.routesOf([caller.userId])).get(caller.userId) ?? [];
    } catch (error) {
      logger.warn({ err: error }, 'presence lookup for a forwarded ack failed');
      throw AppError.unavailable('Acknowledgements are briefly unavailable; try again.', error);
    }
    const route = routes.find((candidate) => candidate.deviceId === caller.deviceId && candidate.connectionId === connectionId);
    if (!route || route.nodeId === nodeId) return 'not_found';

    const envelope: internalV1.PushEnvelope = {
      targets: [],
      frame: undefined,
      forwardedAck: { connectionId, userId: caller.userId, deviceId: caller.deviceId, ack },
      revocation: undefined,
    };
    let outcome;
    try {
      outcome = await bus.publish(route.nodeId, { id: uuidv7(), body: internalV1.PushEnvelope.encode(envelope).finish() });
    } catch (error) {
      logger.warn({ err: error, node: route.nodeId }, 'forwarding an ack over the push bus failed');
      throw AppError.unavailable('Acknowledgements are briefly unavailable; try again.', error);
    }
    // Unroutable: the node is gone and its connections with it.
    return outcome === 'delivered' ? 'forwarded' : 'not_found';
  }
}
