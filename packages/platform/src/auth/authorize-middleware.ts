// Server middleware that authenticates the caller (a user's access token or a
// service token, told apart by the token's `typ`) and checks the permission the
// called method needs, from one table per service: the single place where a
// service decides who may call what. A method missing from the table is refused
// for everyone, so a new method is closed until someone states who may call it.
//
// Order: put it first; handlers get a typed `context.principal`.
import type { CallContext, ServerMiddleware } from 'nice-grpc';
import jwt from 'jsonwebtoken';
import { AppError } from '../errors/app-error.js';
import { SERVICE_TOKEN_TYPE, bearerToken, type AccessTokenClaims, type AccessTokenVerifier, type ServiceTokenClaims } from './access-token.js';
import { assertPermission, type Permission } from './permissions.js';

/** Who is calling: a user on one of their sessions, or a service account. */
export type Principal =
  | { kind: 'user'; role: 'user'; user: AccessTokenClaims }
  | { kind: 'service'; role: ServiceTokenClaims['role']; service: ServiceTokenClaims };

export interface PrincipalContext {
  principal: Principal;
}

/** Method name (e.g. "BanUser") to the permission it needs. */
export type MethodPermissions = Readonly<Record<string, Permission>>;

const MISSING = 'This call needs a token in the authorization metadata (Bearer <token>).';

export function authorizeCalls(verifier: AccessTokenVerifier, rules: MethodPermissions): ServerMiddleware<PrincipalContext> {
  return async function* authorize(call, context: CallContext) {
    const method = call.method.path.slice(call.method.path.lastIndexOf('/') + 1);
    const token = bearerToken(context.metadata.get('authorization'));
    if (!token) throw AppError.unauthenticated(MISSING, 'TOKEN_MISSING');
    const principal = await principalOf(verifier, token);
    const permission = rules[method];
    if (!permission) {
      throw AppError.permissionDenied(`The method ${method} is not open to any role.`, 'METHOD_NOT_ALLOWED');
    }
    assertPermission(principal.role, permission);
    return yield* call.next(call.request, { ...context, principal });
  };
}

/** Verifies `token` as whichever kind its header claims; every check of that kind applies. */
export async function principalOf(verifier: AccessTokenVerifier, token: string): Promise<Principal> {
  // The header is only read to choose the checks; verification does not trust it.
  const typ = jwt.decode(token, { complete: true })?.header.typ;
  if (typ === SERVICE_TOKEN_TYPE) {
    const service = await verifier.verifyServiceToken(token);
    return { kind: 'service', role: service.role, service };
  }
  return { kind: 'user', role: 'user', user: await verifier.verify(token) };
}
