// Server middleware for access tokens. `requireAccessToken` demands a valid token
// and hands the handler a typed `context.auth`: a handler that needs the caller
// cannot compile without it. `optionalAccessToken` serves services that mix public
// and protected methods (auth itself): a present token must be valid, and handlers
// of protected methods call `callerOf(context)`.
import type { CallContext, ServerMiddleware } from 'nice-grpc';
import { AppError } from '../errors/app-error.js';
import { bearerToken, type AccessTokenClaims, type AccessTokenVerifier } from './access-token.js';

export interface AuthContext {
  auth: AccessTokenClaims;
}

export interface OptionalAuthContext {
  auth: AccessTokenClaims | undefined;
}

const MISSING = 'This call needs an access token in the authorization metadata (Bearer <token>).';

export function requireAccessToken(verifier: AccessTokenVerifier): ServerMiddleware<AuthContext> {
  return async function* authenticate(call, context: CallContext) {
    const token = bearerToken(context.metadata.get('authorization'));
    if (!token) throw AppError.unauthenticated(MISSING, 'TOKEN_MISSING');
    const auth = await verifier.verify(token);
    return yield* call.next(call.request, { ...context, auth });
  };
}

/**
 * `publicMethods` (method names such as "RefreshToken") ignore any token sent, so
 * a client that attaches its expired access token to RefreshToken still gets in.
 */
export function optionalAccessToken(
  verifier: AccessTokenVerifier,
  publicMethods: ReadonlySet<string> = new Set(),
): ServerMiddleware<OptionalAuthContext> {
  return async function* authenticate(call, context: CallContext) {
    const method = call.method.path.slice(call.method.path.lastIndexOf('/') + 1);
    if (publicMethods.has(method)) return yield* call.next(call.request, { ...context, auth: undefined });
    const token = bearerToken(context.metadata.get('authorization'));
    const auth = token ? await verifier.verify(token) : undefined;
    return yield* call.next(call.request, { ...context, auth });
  };
}

/** The caller of a protected method, or UNAUTHENTICATED. */
export function callerOf(context: OptionalAuthContext): AccessTokenClaims {
  if (!context.auth) throw AppError.unauthenticated(MISSING, 'TOKEN_MISSING');
  return context.auth;
}
