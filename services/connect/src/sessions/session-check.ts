// SessionCheck: asks auth (im.internal.v1.SessionStatusService) whether the
// session behind a valid access token may hold a connection. A signed token
// stays valid until it expires, so without this a token of a logged-out, revoked
// or banned session would still connect for up to one token lifetime.
//
// The hub asks after the connection's presence route is registered: a
// revocation committed before the question is answered here; one committed
// after it finds the route in presence and reaches this node as a
// SessionRevocation over the push bus. Either way the connection ends.
import { ClientError, Status } from 'nice-grpc';
import { internalV1 } from '@im-mesh/contracts';
import { BatchedLookup, createServiceClient, type AccessTokenClaims, type ServiceChannel, type ServiceTokenSource } from '@im-mesh/platform';

export type SessionVerdict = { kind: 'live' } | { kind: 'revoked' } | { kind: 'banned'; reason: string };

/** Resolves the verdict; rejects when auth cannot be asked (the hub answers UNAVAILABLE). */
export type SessionCheck = (claims: AccessTokenClaims) => Promise<SessionVerdict>;

/**
 * How long one question to auth may take, in ms. Generous: under a reconnect
 * storm a refused check sends its client back into the storm, so waiting a
 * little longer costs less than failing.
 */
const CHECK_DEADLINE_MS = 10_000;

/** Sessions per CheckSessions call (auth takes up to 1,000). */
const SESSIONS_PER_CALL = 500;

type SessionKey = { userId: string; sessionId: string };

/**
 * Questions asked while earlier ones are on their way to auth go together in
 * the next CheckSessions call (BatchedLookup): thousands of clients reconnecting
 * at once cost a few dozen calls, not one each.
 */
export function authSessionCheck(channel: ServiceChannel, serviceToken?: ServiceTokenSource): SessionCheck {
  const client = createServiceClient(internalV1.SessionStatusServiceDefinition, channel.channel, { serviceToken });
  const keyOf = (key: SessionKey) => `${key.userId}:${key.sessionId}`;
  const questions = new BatchedLookup<SessionKey, SessionVerdict>({
    keyOf,
    // Never used: fetch answers every key or throws.
    missing: { kind: 'revoked' },
    maxBatch: SESSIONS_PER_CALL,
    fetch: async (keys) => {
      const signal = AbortSignal.timeout(CHECK_DEADLINE_MS);
      let results: internalV1.CheckSessionResponse[];
      try {
        ({ results } = await client.checkSessions({ sessions: keys }, { signal }));
      } catch (error) {
        // An auth from before CheckSessions (a rolling upgrade that reached connect
        // first): ask one session at a time, as before.
        if (!(error instanceof ClientError && error.code === Status.UNIMPLEMENTED)) throw error;
        results = await Promise.all(keys.map((key) => client.checkSession(key, { signal })));
      }
      // One answer per question, in order; anything else is auth's fault, not the
      // user's: fail the check (the client retries) rather than log them out.
      if (results.length !== keys.length) throw new Error(`auth answered ${results.length} of ${keys.length} session checks`);
      return new Map(keys.map((key, i) => [keyOf(key), verdictOf(results[i]!)]));
    },
  });
  return (claims) => questions.load({ userId: claims.userId, sessionId: claims.sessionId });
}

function verdictOf(answer: internalV1.CheckSessionResponse): SessionVerdict {
  switch (answer.state) {
    case internalV1.SessionState.SESSION_STATE_LIVE:
      return { kind: 'live' };
    case internalV1.SessionState.SESSION_STATE_BANNED:
      return { kind: 'banned', reason: answer.reason };
    default:
      // Revoked, unknown, or a state this node does not know yet: refuse.
      return { kind: 'revoked' };
  }
}
