// Who may do what: the global role table, read as a whole, and the middleware
// that enforces it per method (service tokens vs user access tokens).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import {
  AccessTokenVerifier,
  AppError,
  ErrorCode,
  PERMISSIONS,
  assertPermission,
  principalOf,
  roleGrants,
  type Permission,
  type Role,
} from '@im-mesh/platform';

/** The whole table: a change to ROLE_PERMISSIONS must change this test. */
const EXPECTED: Record<Permission, readonly Role[]> = {
  'sessions.manage_own': ['user'],
  'users.create': ['admin'],
  'users.ban': ['admin'],
  'users.manage_sessions': ['admin'],
  'messages.send_system': ['admin'],
  'internal.call': ['service'],
};
const ROLES: readonly Role[] = ['user', 'service', 'admin'];

describe('global roles and permissions', () => {
  for (const permission of PERMISSIONS) {
    for (const role of ROLES) {
      const allowed = EXPECTED[permission].includes(role);
      test(`${role} ${allowed ? 'may' : 'may not'} ${permission}`, () => {
        assert.equal(roleGrants(role, permission), allowed);
        if (allowed) assertPermission(role, permission);
        else {
          assert.throws(
            () => assertPermission(role, permission),
            (error: unknown) => error instanceof AppError && error.code === ErrorCode.PermissionDenied && error.message.includes(permission),
          );
        }
      });
    }
  }
});

describe('principalOf: a token is a user or a service account, never both', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const verifier = new AccessTokenVerifier({
    issuer: 'im-mesh',
    audience: 'im-mesh',
    source: async () => ({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }),
  });
  const sign = (payload: object, typ: string) =>
    jwt.sign({ iss: 'im-mesh', aud: 'im-mesh', ...payload }, privateKey, { algorithm: 'RS256', expiresIn: 60, header: { alg: 'RS256', typ, kid: 'k1' } });

  test('a service token is a service principal with its role; a user token a user', async () => {
    const service = await principalOf(verifier, sign({ sub: 'support-team', role: 'admin' }, 'service+jwt'));
    assert.deepEqual([service.kind, service.role], ['service', 'admin']);
    const user = await principalOf(verifier, sign({ sub: 'u1', sid: 's1', did: 'd1' }, 'at+jwt'));
    assert.deepEqual([user.kind, user.role], ['user', 'user']);
  });

  test('a service token with an unknown role, or user claims dressed as a service token, is refused', async () => {
    for (const token of [
      sign({ sub: 'x', role: 'superuser' }, 'service+jwt'),
      sign({ sub: 'u1', sid: 's1', did: 'd1' }, 'service+jwt'),
    ]) {
      await assert.rejects(principalOf(verifier, token), (error: unknown) => error instanceof AppError && error.code === ErrorCode.Unauthenticated);
    }
    // A service token can never pass as a user's access token.
    await assert.rejects(verifier.verify(sign({ sub: 'x', role: 'admin', sid: 's', did: 'd' }, 'service+jwt')), AppError);
    verifier.close();
  });
});
