// Who may do what in a group, cell by cell: the table in group-permissions.ts
// against an independent statement of the rules, so a change to either one
// shows up here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@im-mesh/platform';
import {
  decideGroupPermission,
  GROUP_PERMISSIONS,
  JOIN_POLICY_APPROVAL,
  JOIN_POLICY_OPEN,
  requireGroupPermission,
  requireRoleMayEver,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROLE_OWNER,
  type GroupAction,
  type GroupPermissionContext,
} from '../src/groups/group-permissions.js';

const O = ROLE_OWNER;
const A = ROLE_ADMIN;
const M = ROLE_MEMBER;

// [action, context, allowed]: written out by hand from the product rules.
const CASES: Array<[GroupAction, GroupPermissionContext, boolean]> = [
  ['view', { actorRole: M }, true],
  ['send', { actorRole: M }, true],
  ['send', { actorRole: M, muteAll: true }, false],
  ['send', { actorRole: A, muteAll: true }, true],
  ['send', { actorRole: O, muteAll: true }, true],
  ['leave', { actorRole: M }, true],
  ['leave', { actorRole: A }, true],
  ['leave', { actorRole: O }, false],
  ['invite', { actorRole: M, joinPolicy: JOIN_POLICY_APPROVAL }, false],
  ['invite', { actorRole: M, joinPolicy: JOIN_POLICY_OPEN }, true],
  ['invite', { actorRole: A, joinPolicy: JOIN_POLICY_APPROVAL }, true],
  ['invite', { actorRole: O, joinPolicy: JOIN_POLICY_APPROVAL }, true],
  ['editProfile', { actorRole: M }, false],
  ['editProfile', { actorRole: A }, true],
  ['editSettings', { actorRole: A }, false],
  ['editSettings', { actorRole: O }, true],
  ['reviewJoinRequests', { actorRole: M }, false],
  ['reviewJoinRequests', { actorRole: A }, true],
  ['kick', { actorRole: M, targetRole: M }, false],
  ['kick', { actorRole: M, targetRole: A }, false],
  ['kick', { actorRole: A, targetRole: M }, true],
  ['kick', { actorRole: A, targetRole: A }, false],
  ['kick', { actorRole: A, targetRole: O }, false],
  ['kick', { actorRole: O, targetRole: A }, true],
  ['kick', { actorRole: O, targetRole: M }, true],
  ['mute', { actorRole: A, targetRole: M }, true],
  ['mute', { actorRole: A, targetRole: A }, false],
  ['mute', { actorRole: O, targetRole: A }, true],
  ['mute', { actorRole: M, targetRole: M }, false],
  ['setRole', { actorRole: A, targetRole: M }, false],
  ['setRole', { actorRole: O, targetRole: M }, true],
  ['setRole', { actorRole: O, targetRole: A }, true],
  ['transferOwnership', { actorRole: A, targetRole: M }, false],
  ['transferOwnership', { actorRole: O, targetRole: M }, true],
  ['setMuteAll', { actorRole: M }, false],
  ['setMuteAll', { actorRole: A }, true],
  ['dissolve', { actorRole: A }, false],
  ['dissolve', { actorRole: O }, true],
  ['recallOthers', { actorRole: M }, false],
  ['recallOthers', { actorRole: A }, true],
  ['recallOthers', { actorRole: O }, true],
];

describe('group permission table', () => {
  for (const [action, context, allowed] of CASES) {
    const who = context.targetRole ? `role ${context.actorRole} on role ${context.targetRole}` : `role ${context.actorRole}`;
    const extra = context.muteAll ? ' with mute-all' : context.joinPolicy === JOIN_POLICY_OPEN ? ' in an open group' : '';
    test(`${action}: ${who}${extra} is ${allowed ? 'allowed' : 'refused'}`, () => {
      assert.equal(decideGroupPermission(action, context).allowed, allowed);
    });
  }

  test('every action has a row for each of the three roles, and the cases above cover every action', () => {
    const covered = new Set(CASES.map(([action]) => action));
    for (const [action, row] of Object.entries(GROUP_PERMISSIONS)) {
      assert.deepEqual(Object.keys(row).sort(), [String(O), String(A), String(M)].sort(), action);
      assert.ok(covered.has(action as GroupAction), `no case for ${action}`);
    }
  });

  test('a refusal is PERMISSION_DENIED with a sentence naming the action and why; the owner leaving is FAILED_PRECONDITION', () => {
    assert.throws(
      () => requireGroupPermission('kick', { actorRole: A, targetRole: A }),
      (error: unknown) =>
        error instanceof AppError &&
        error.code === 'permission_denied' &&
        error.message === 'You cannot remove this member: they are an admin and you are an admin.',
    );
    assert.throws(
      () => requireGroupPermission('leave', { actorRole: O }),
      (error: unknown) => error instanceof AppError && error.code === 'failed_precondition' && /transfer ownership/.test(error.message),
    );
  });

  test('a member is refused a kick before anyone looks for the target; an admin is not', () => {
    assert.throws(() => requireRoleMayEver('kick', M), (error: unknown) => error instanceof AppError && error.code === 'permission_denied');
    assert.doesNotThrow(() => requireRoleMayEver('kick', A));
  });
});
