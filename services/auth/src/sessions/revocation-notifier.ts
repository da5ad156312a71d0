// RevocationNotifier: tells connect nodes that sessions ended, so live
// connections close within seconds instead of when their access tokens expire.
// Presence says which nodes hold connections of the user; each of those nodes
// gets one PushEnvelope carrying a SessionRevocation over the push bus (the same
// path pushes take), and closes the matching connections with GoAway
// (reconnect=false).
//
// Best effort by design: the revocation is already committed when this runs. A
// connection this misses (its route registered just after the presence read)
// is caught by the node's CheckSession, which it asks after registering the
// route; and every connection ends when its access token expires.
import { internalV1 } from '@im-mesh/contracts';
import { uuidv7, type Logger, type PresenceRegistry, type PushBus } from '@im-mesh/platform';

export interface RevocationNotice {
  userId: string;
  /** The sessions that ended; undefined for all of the user's sessions. */
  sessionIds?: readonly string[];
  /** For GoAway and logs: "logged out", "session revoked", "refresh token reused", "account banned". */
  reason: string;
  /** The user was banned: connections end with PERMISSION_DENIED. */
  banned?: boolean;
}

/** What auth needs of the infrastructure to reach connect nodes; absent in tests of auth alone. */
export interface RevocationChannel {
  presence: PresenceRegistry;
  bus: PushBus;
}

export class RevocationNotifier {
  constructor(
    private readonly channel: RevocationChannel | undefined,
    private readonly logger: Logger,
  ) {}

  /** Publishes the notice to every node holding a connection of the user. Never throws. */
  async notify(notice: RevocationNotice): Promise<void> {
    if (!this.channel) return;
    if (notice.sessionIds && notice.sessionIds.length === 0) return;
    const { presence, bus } = this.channel;
    try {
      const routes = (await presence.routesOf([notice.userId])).get(notice.userId) ?? [];
      const nodes = new Set(routes.map((route) => route.nodeId));
      if (nodes.size === 0) return;
      const body = internalV1.PushEnvelope.encode(
        internalV1.PushEnvelope.fromPartial({
          revocation: {
            userId: notice.userId,
            sessionIds: [...(notice.sessionIds ?? [])],
            reason: notice.reason,
            banned: notice.banned ?? false,
          },
        }),
      ).finish();
      await Promise.all(
        [...nodes].map(async (nodeId) => {
          // 'unroutable' means the node is gone, and its connections with it.
          await bus.publish(nodeId, { id: `revocation-${uuidv7()}`, body });
        }),
      );
    } catch (error) {
      // Committed already; the node's session check and token expiry are the backstop.
      this.logger.warn({ err: error, userId: notice.userId, reason: notice.reason }, 'could not tell connect nodes about ended sessions');
    }
  }
}
