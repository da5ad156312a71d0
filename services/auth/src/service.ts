// Thin gRPC handlers of auth: im.auth.v1.AuthService for clients, and the
// internal KeyService and UserDirectoryService for the other services. Each one
// maps the request onto a feature and the result back onto the response.
import { authV1, internalV1 } from '@im-mesh/contracts';
import { callerOf, type OptionalAuthContext } from '@im-mesh/platform';
import type { Registration } from './accounts/registration.js';
import type { UserDirectory } from './accounts/user-directory.js';
import type { KeyRing } from './keys/key-ring.js';
import type { LoginChallenge } from './login/login-challenge.js';
import type { LoginFlow } from './login/login.js';
import type { Sessions } from './sessions/sessions.js';

export interface AuthFeatures {
  challenge: LoginChallenge;
  registration: Registration;
  login: LoginFlow;
  sessions: Sessions;
}

/**
 * AuthService mixes public methods (everything but Logout) with one protected
 * method, so it runs behind optionalAccessToken and Logout asks callerOf().
 */
export function authService(features: AuthFeatures): authV1.AuthServiceImplementation<OptionalAuthContext> {
  return {
    async getLoginKey(request) {
      return features.challenge.issue(request.deviceId);
    },
    async register(request, context) {
      return features.registration.register({
        username: request.username,
        password: request.password,
        deviceId: request.deviceId,
        displayName: request.displayName,
        signal: context.signal,
      });
    },
    async login(request, context) {
      const result = await features.login.login({
        username: request.username,
        password: request.password,
        deviceId: request.deviceId,
        devicePlatform: request.devicePlatform,
        signal: context.signal,
      });
      return { userId: result.userId, sessionId: result.sessionId, tokens: result.tokens };
    },
    async refreshToken(request) {
      return { tokens: await features.sessions.refresh(request.refreshToken) };
    },
    async logout(_request, context) {
      await features.sessions.logout(callerOf(context));
      return {};
    },
  };
}

export function keyService(keys: KeyRing): internalV1.KeyServiceImplementation {
  return {
    async getJwks() {
      return { jwksJson: keys.jwksJson() };
    },
  };
}

export function userDirectoryService(directory: UserDirectory): internalV1.UserDirectoryServiceImplementation {
  return {
    async lookupUsers(request) {
      return { users: await directory.lookup(request.userIds) };
    },
    async findUser(request) {
      // Only usernames today; phone numbers join once auth stores them behind a blind index.
      if (request.key?.$case !== 'username') return { user: undefined };
      return { user: await directory.findByUsername(request.key.value) };
    },
  };
}
