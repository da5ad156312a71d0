// Thin gRPC handlers of auth: im.auth.v1.AuthService for clients, and the
// internal KeyService and UserDirectoryService for the other services. Each one
// maps the request onto a feature and the result back onto the response.
import { authV1, internalV1 } from '@im-mesh/contracts';
import { callerOf, type OptionalAuthContext } from '@im-mesh/platform';
import { normalisePhoneNumber } from './accounts/phone-number.js';
import type { Registration } from './accounts/registration.js';
import type { UserDirectory } from './accounts/user-directory.js';
import type { KeyRing } from './keys/key-ring.js';
import type { ClientAddressResolver } from './login/client-address.js';
import type { LoginChallenge } from './login/login-challenge.js';
import type { LoginFlow } from './login/login.js';
import type { Sessions } from './sessions/sessions.js';
import { requireSms, smsPurposeOf, type SmsFeatures } from './sms/sms-features.js';

export interface AuthFeatures {
  challenge: LoginChallenge;
  registration: Registration;
  login: LoginFlow;
  sessions: Sessions;
  /** Who is calling, through trusted proxies (for brute-force and SMS limits). */
  clientAddress: ClientAddressResolver;
  /** Absent when SMS is disabled. */
  sms: SmsFeatures | undefined;
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
        clientAddress: features.clientAddress.of(context),
        signal: context.signal,
      });
    },
    async login(request, context) {
      const result = await features.login.login({
        username: request.username,
        password: request.password,
        deviceId: request.deviceId,
        devicePlatform: request.devicePlatform,
        clientAddress: features.clientAddress.of(context),
        signal: context.signal,
      });
      return { userId: result.userId, sessionId: result.sessionId, tokens: result.tokens };
    },
    async sendSmsCode(request, context) {
      const sms = requireSms(features.sms);
      const purpose = smsPurposeOf(request.purpose);
      const sent = await sms.codes.send(normalisePhoneNumber(request.phoneNumber), purpose, features.clientAddress.of(context));
      return { codeExpiresAt: sent.expiresAt, resendAllowedAt: sent.resendAllowedAt };
    },
    async registerWithSmsCode(request, context) {
      const result = await requireSms(features.sms).registration.register({
        phoneNumber: request.phoneNumber,
        code: request.code,
        username: request.username,
        displayName: request.displayName,
        deviceId: request.deviceId,
        devicePlatform: request.devicePlatform,
        clientAddress: features.clientAddress.of(context),
      });
      return { userId: result.userId, username: result.username, sessionId: result.sessionId, tokens: result.tokens };
    },
    async loginWithSmsCode(request, context) {
      const result = await requireSms(features.sms).login.login({
        phoneNumber: request.phoneNumber,
        code: request.code,
        deviceId: request.deviceId,
        devicePlatform: request.devicePlatform,
        clientAddress: features.clientAddress.of(context),
      });
      return { userId: result.userId, sessionId: result.sessionId, tokens: result.tokens };
    },
    async resetPasswordWithSmsCode(request, context) {
      await requireSms(features.sms).passwordReset.reset({
        phoneNumber: request.phoneNumber,
        code: request.code,
        newPassword: request.newPassword,
        deviceId: request.deviceId,
        clientAddress: features.clientAddress.of(context),
        signal: context.signal,
      });
      return {};
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
      switch (request.key?.$case) {
        case 'username':
          return { user: await directory.findByUsername(request.key.value) };
        case 'phoneNumber':
          return { user: await directory.findByPhoneNumber(request.key.value) };
        default:
          return { user: undefined };
      }
    },
  };
}
