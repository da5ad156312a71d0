// The verified caller of a user-facing core service (FileService, UserService).
// Core keys rows by user UUID, so a token whose subject is not a UUID (auth
// never issues one) is refused up front, as MessageService does.
import { AppError, isUuid, type AccessTokenClaims, type AuthContext } from '@im-mesh/platform';

export function verifiedUser(context: AuthContext): AccessTokenClaims {
  if (!isUuid(context.auth.userId)) {
    throw AppError.unauthenticated('The access token does not name a user this service knows.', 'TOKEN_SUBJECT');
  }
  return context.auth;
}
