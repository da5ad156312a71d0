// SessionCheck: asks auth (im.internal.v1.SessionStatusService) whether the
// session behind a valid access token may hold a connection. A signed token
// stays valid until it expires, so without this a token of a logged-out, revoked
// or banned session would still connect for up to one token lifetime.
//
// The hub asks after the connection's presence route is registered: a
// revocation committed before the question is answered here; one committed
// after it finds the route in presence and reaches this node as a
// SessionRevocation over the push bus. Either way the connection ends.
import { internalV1 } from '@im-mesh/contracts';
import { createServiceClient, type AccessTokenClaims, type ServiceChannel, type ServiceTokenSource } from '@im-mesh/platform';

export type SessionVerdict = { kind: 'live' } | { kind: 'revoked' } | { kind: 'banned'; reason: string };

/** Resolves the verdict; rejects when auth cannot be asked (the hub answers UNAVAILABLE). */
export type SessionCheck = (claims: AccessTokenClaims) => Promise<SessionVerdict>;

/** How long one question to auth may take, in ms. */
const CHECK_DEADLINE_MS = 3_000;

export function authSessionCheck(channel: ServiceChannel, serviceToken?: ServiceTokenSource): SessionCheck {
  const client = createServiceClient(internalV1.SessionStatusServiceDefinition, channel.channel, { serviceToken });
  return async (claims) => {
    const answer = await client.checkSession(
      { userId: claims.userId, sessionId: claims.sessionId },
      { signal: AbortSignal.timeout(CHECK_DEADLINE_MS) },
    );
    switch (answer.state) {
      case internalV1.SessionState.SESSION_STATE_LIVE:
        return { kind: 'live' };
      case internalV1.SessionState.SESSION_STATE_BANNED:
        return { kind: 'banned', reason: answer.reason };
      default:
        // Revoked, unknown, or a state this node does not know yet: refuse.
        return { kind: 'revoked' };
    }
  };
}
