// im.admin.v1.UserAdminService: account management for internal teams, behind
// service tokens with the "admin" role (the permission table below, checked by
// authorizeCalls before any handler runs). Every change is logged with the
// service account that made it, so the log is the audit trail.
import type { adminV1 } from '@im-mesh/contracts';
import { AppError, uuidv7, type Logger, type PrincipalContext } from '@im-mesh/platform';
import { checkDisplayName, checkUsername } from '../accounts/account-rules.js';
import { checkNewPassword } from '../passwords/password-policy.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import { toSession } from '../sessions/session-service.js';
import type { Sessions } from '../sessions/sessions.js';
import type { AccountStore } from '../storage/account-store.js';

export const USER_ADMIN_PERMISSIONS = {
  CreateUser: 'users.create',
  BanUser: 'users.ban',
  UnbanUser: 'users.ban',
  ListUserSessions: 'users.manage_sessions',
  ForceLogout: 'users.manage_sessions',
} as const;

/** Longest ban reason, in characters; it is shown to the user. */
export const MAX_BAN_REASON_CHARS = 500;
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

export interface UserAdminDeps {
  accounts: AccountStore;
  hasher: PasswordHasher;
  sessions: Sessions;
  logger: Logger;
}

export function userAdminService(deps: UserAdminDeps): adminV1.UserAdminServiceImplementation<PrincipalContext> {
  const { accounts, hasher, sessions, logger } = deps;
  const audit = (context: PrincipalContext, action: string, details: Record<string, unknown>) =>
    logger.info({ ...details, action, by: context.principal.kind === 'service' ? context.principal.service.clientId : 'user' }, 'admin action');

  return {
    async createUser(request, context) {
      const username = checkUsername(request.username);
      const displayName = checkDisplayName(request.displayName, username);
      const password = checkNewPassword(request.password, username);
      const taken = () =>
        new AppError('already_exists', `The username "${username}" is already taken. Choose another one.`, { reason: 'USERNAME_TAKEN' });
      if (await accounts.usernameTaken(username)) throw taken();
      const passwordHash = await hasher.hash(password, context.signal);
      const userId = uuidv7();
      if ((await accounts.createAccount({ id: userId, username, displayName, passwordHash })) === 'username_taken') throw taken();
      audit(context, 'create_user', { userId, username });
      return { userId };
    },
    async banUser(request, context) {
      const reason = checkBanReason(request.reason);
      const revokedSessions = await sessions.ban(request.userId, reason);
      audit(context, 'ban_user', { userId: request.userId, revokedSessions });
      return { revokedSessions };
    },
    async unbanUser(request, context) {
      await sessions.unban(request.userId);
      audit(context, 'unban_user', { userId: request.userId });
      return {};
    },
    async listUserSessions(request) {
      return { sessions: (await sessions.list(request.userId)).map(toSession) };
    },
    async forceLogout(request, context) {
      let revokedSessions: number;
      if (request.sessionId) {
        revokedSessions = (await sessions.revoke(request.userId, request.sessionId, 'logged out by an administrator')) ? 1 : 0;
      } else {
        revokedSessions = await sessions.revokeAll(request.userId, undefined, 'logged out by an administrator');
      }
      audit(context, 'force_logout', { userId: request.userId, sessionId: request.sessionId || undefined, revokedSessions });
      return { revokedSessions };
    },
  };
}

function checkBanReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length > MAX_BAN_REASON_CHARS || CONTROL_CHARACTER.test(trimmed)) {
    throw AppError.invalidArgument(`The ban reason is shown to the user: at most ${MAX_BAN_REASON_CHARS} characters, no control characters.`, 'BAN_REASON_INVALID');
  }
  return trimmed;
}
