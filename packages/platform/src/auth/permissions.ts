// Global roles and the named permissions they grant: the one table every service
// checks against. A user acting with an access token always has the role "user";
// service accounts (service tokens) have "service" (other services of the mesh)
// or "admin" (internal teams and operators). A role gets exactly the permissions
// listed for it, nothing by inheritance, so the table reads as the whole truth.
//
// Group roles (owner, admin, member) are per conversation and live in core.
import { AppError } from '../errors/app-error.js';
import type { ServiceRole } from './access-token.js';

export type Role = 'user' | ServiceRole;

export const PERMISSIONS = [
  /** See and end the caller's own sessions (SessionService). */
  'sessions.manage_own',
  /** Create accounts (UserAdminService.CreateUser). */
  'users.create',
  /** Ban and unban accounts. */
  'users.ban',
  /** List any user's sessions and end them (ListUserSessions, ForceLogout). */
  'users.manage_sessions',
  /** Send a system message to a user or group (core's MessageAdminService). */
  'messages.send_system',
  /** Service-to-service calls of im.internal.v1. */
  'internal.call',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  user: new Set<Permission>(['sessions.manage_own']),
  service: new Set<Permission>(['internal.call']),
  admin: new Set<Permission>(['users.create', 'users.ban', 'users.manage_sessions', 'messages.send_system']),
};

/** True when `role` grants `permission`. */
export function roleGrants(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

/** Throws PERMISSION_DENIED naming what is missing unless `role` grants `permission`. */
export function assertPermission(role: Role, permission: Permission): void {
  if (roleGrants(role, permission)) return;
  throw AppError.permissionDenied(
    `This call needs the permission "${permission}", which the role "${role}" does not have.`,
    'PERMISSION_MISSING',
  );
}
