// Who may do what in a group: the ONE table every group check reads. Handlers
// never compare roles themselves; they ask `requireGroupPermission` (or
// `decideGroupPermission`) and get AppError.permissionDenied / failedPrecondition
// with a sentence the caller can act on.
import { AppError } from '@im-mesh/platform';

export const ROLE_OWNER = 1;
export const ROLE_ADMIN = 2;
export const ROLE_MEMBER = 3;
/** The numbers of im.message.v1.GroupRole, as stored in group_members.role. */
export type GroupRoleNumber = typeof ROLE_OWNER | typeof ROLE_ADMIN | typeof ROLE_MEMBER;

export const JOIN_POLICY_APPROVAL = 1;
export const JOIN_POLICY_OPEN = 2;

export type GroupAction =
  | 'view'
  | 'send'
  | 'leave'
  | 'invite'
  | 'editProfile'
  | 'editSettings'
  | 'reviewJoinRequests'
  | 'kick'
  | 'mute'
  | 'setRole'
  | 'transferOwnership'
  | 'setMuteAll'
  | 'dissolve'
  | 'recallOthers';

/**
 * - `always`: the role may.
 * - `never`: it may not.
 * - `overLowerRoles`: only on a target whose role ranks below the actor's
 *   (owner > admin > member), so an admin cannot kick or mute another admin.
 * - `inOpenGroups`: only when the group's join policy is OPEN (otherwise a
 *   member's invite would bypass the admins' approval).
 * - `unlessMuteAll`: only while mute-all is off.
 */
export type Allowance = 'always' | 'never' | 'overLowerRoles' | 'inOpenGroups' | 'unlessMuteAll';

export const GROUP_PERMISSIONS: Readonly<Record<GroupAction, Readonly<Record<GroupRoleNumber, Allowance>>>> = {
  view: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'always' },
  send: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'unlessMuteAll' },
  // The owner cannot just leave: the group would have nobody in charge.
  leave: { [ROLE_OWNER]: 'never', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'always' },
  invite: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'inOpenGroups' },
  editProfile: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'never' },
  editSettings: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'never', [ROLE_MEMBER]: 'never' },
  reviewJoinRequests: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'never' },
  kick: { [ROLE_OWNER]: 'overLowerRoles', [ROLE_ADMIN]: 'overLowerRoles', [ROLE_MEMBER]: 'never' },
  mute: { [ROLE_OWNER]: 'overLowerRoles', [ROLE_ADMIN]: 'overLowerRoles', [ROLE_MEMBER]: 'never' },
  setRole: { [ROLE_OWNER]: 'overLowerRoles', [ROLE_ADMIN]: 'never', [ROLE_MEMBER]: 'never' },
  transferOwnership: { [ROLE_OWNER]: 'overLowerRoles', [ROLE_ADMIN]: 'never', [ROLE_MEMBER]: 'never' },
  setMuteAll: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'never' },
  dissolve: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'never', [ROLE_MEMBER]: 'never' },
  // Recalling someone else's message, at any age (senders recall their own within the window).
  recallOthers: { [ROLE_OWNER]: 'always', [ROLE_ADMIN]: 'always', [ROLE_MEMBER]: 'never' },
};

/** What a decision needs to know besides the actor's role. */
export interface GroupPermissionContext {
  actorRole: GroupRoleNumber;
  /** For actions on another member. */
  targetRole?: GroupRoleNumber;
  joinPolicy?: number;
  muteAll?: boolean;
}

export type GroupPermissionDecision = { allowed: true } | { allowed: false; reason: string };

const ACTION_WORDS: Record<GroupAction, string> = {
  view: 'see this group',
  send: 'send to this group',
  leave: 'leave this group',
  invite: 'invite people to this group',
  editProfile: "change this group's name, notice, announcement or picture",
  editSettings: "change this group's join policy or history visibility",
  reviewJoinRequests: 'review join requests',
  kick: 'remove this member',
  mute: 'mute this member',
  setRole: "change this member's role",
  transferOwnership: 'transfer ownership',
  setMuteAll: 'turn mute-all on or off',
  dissolve: 'dissolve this group',
  recallOthers: "recall other people's messages",
};

/** Reads the table; pure, so the table-driven test covers every cell. */
export function decideGroupPermission(action: GroupAction, context: GroupPermissionContext): GroupPermissionDecision {
  const allowance = GROUP_PERMISSIONS[action][context.actorRole];
  const refuse = (why: string): GroupPermissionDecision => ({ allowed: false, reason: `You cannot ${ACTION_WORDS[action]}: ${why}.` });
  switch (allowance) {
    case 'always':
      return { allowed: true };
    case 'never':
      return refuse(action === 'leave' ? 'the owner must transfer ownership or dissolve the group first' : `your role is ${roleName(context.actorRole)}`);
    case 'overLowerRoles':
      if (context.targetRole === undefined) return refuse('no member named');
      return context.targetRole > context.actorRole ? { allowed: true } : refuse(`they are ${roleName(context.targetRole)} and you are ${roleName(context.actorRole)}`);
    case 'inOpenGroups':
      return context.joinPolicy === JOIN_POLICY_OPEN ? { allowed: true } : refuse('in a group that needs approval only admins and the owner invite');
    case 'unlessMuteAll':
      return context.muteAll ? refuse('mute-all is on, so only the owner and admins can send') : { allowed: true };
  }
}

/**
 * Throws unless allowed. The owner's leave is FAILED_PRECONDITION (the group is
 * in a state that forbids it; transferring first fixes it); everything else is
 * PERMISSION_DENIED.
 */
export function requireGroupPermission(action: GroupAction, context: GroupPermissionContext): void {
  const refusal = groupPermissionRefusal(action, context);
  if (refusal) throw refusal;
}

/** The error requireGroupPermission throws, or undefined when the action is allowed (for checks that collect verdicts). */
export function groupPermissionRefusal(action: GroupAction, context: GroupPermissionContext): AppError | undefined {
  const decision = decideGroupPermission(action, context);
  if (decision.allowed) return undefined;
  if (action === 'leave') return AppError.failedPrecondition(decision.reason, 'GROUP_OWNER_CANNOT_LEAVE');
  return AppError.permissionDenied(decision.reason, 'GROUP_PERMISSION_DENIED');
}

export function roleName(role: GroupRoleNumber): string {
  return role === ROLE_OWNER ? 'the owner' : role === ROLE_ADMIN ? 'an admin' : 'a member';
}

/**
 * For actions on another member: refuses up front a role that may never do
 * `action` whoever the target is, so a member asking to kick a non-member hears
 * "not allowed" rather than "no such member". The full check with the target's
 * role follows with requireGroupPermission.
 */
export function requireRoleMayEver(action: GroupAction, actorRole: GroupRoleNumber): void {
  if (GROUP_PERMISSIONS[action][actorRole] === 'never') requireGroupPermission(action, { actorRole });
}
