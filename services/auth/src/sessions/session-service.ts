// im.auth.v1.SessionService (the caller's own sessions) and
// im.internal.v1.SessionStatusService (connect nodes asking whether a session may
// hold a connection): thin handlers over Sessions.
import { authV1, internalV1 } from '@im-mesh/contracts';
import { AppError, type Principal, type PrincipalContext } from '@im-mesh/platform';
import type { ListedSession, Sessions } from './sessions.js';

/** Who may call SessionService, checked by authorizeCalls before any handler runs. */
export const SESSION_SERVICE_PERMISSIONS = {
  ListSessions: 'sessions.manage_own',
  RevokeSession: 'sessions.manage_own',
  RevokeAllSessions: 'sessions.manage_own',
} as const;

export function sessionService(sessions: Sessions): authV1.SessionServiceImplementation<PrincipalContext> {
  return {
    async listSessions(_request, context) {
      const caller = userOf(context.principal);
      return { sessions: (await sessions.list(caller.userId, caller.sessionId)).map(toSession) };
    },
    async revokeSession(request, context) {
      const caller = userOf(context.principal);
      await sessions.revoke(caller.userId, request.sessionId);
      return {};
    },
    async revokeAllSessions(request, context) {
      const caller = userOf(context.principal);
      const revokedCount = await sessions.revokeAll(caller.userId, request.keepCurrent ? caller.sessionId : undefined);
      return { revokedCount };
    },
  };
}

/** Most sessions one CheckSessions call may ask about. */
export const MAX_SESSIONS_PER_CHECK = 1_000;

export function sessionStatusService(sessions: Sessions): internalV1.SessionStatusServiceImplementation {
  const check = async (request: internalV1.CheckSessionRequest): Promise<internalV1.CheckSessionResponse> => {
    const standing = await sessions.standing(request.userId, request.sessionId);
    switch (standing.kind) {
      case 'live':
        return { state: internalV1.SessionState.SESSION_STATE_LIVE, reason: '' };
      case 'banned':
        return { state: internalV1.SessionState.SESSION_STATE_BANNED, reason: standing.reason };
      case 'revoked':
        return { state: internalV1.SessionState.SESSION_STATE_REVOKED, reason: '' };
    }
  };
  return {
    checkSession: check,
    async checkSessions(request) {
      if (request.sessions.length > MAX_SESSIONS_PER_CHECK) {
        throw AppError.invalidArgument(`Ask about at most ${MAX_SESSIONS_PER_CHECK} sessions per call.`, 'TOO_MANY_SESSIONS');
      }
      // The store answers concurrent questions with shared queries (SessionStore.sessionStanding).
      return { results: await Promise.all(request.sessions.map(check)) };
    },
  };
}

/** Session lists are about a user's own sessions: only a user's access token names one. */
function userOf(principal: Principal) {
  if (principal.kind !== 'user') {
    throw AppError.permissionDenied('SessionService manages the sessions of the signed-in user; call it with a user access token.', 'USER_TOKEN_REQUIRED');
  }
  return principal.user;
}

export function toSession(session: ListedSession): authV1.Session {
  return {
    sessionId: session.sessionId,
    deviceId: session.deviceId,
    devicePlatform: session.devicePlatform,
    createdAt: session.createdAt,
    lastRefreshedAt: session.lastRefreshedAt,
    current: session.current,
  };
}
