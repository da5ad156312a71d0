// Admission: what the edge decides before a call reaches an upstream, in this
// order: per-IP rate limit, route, access token (protected methods only), per-user
// rate limit. Both transports (native gRPC and grpc-web) ask the same question
// here, so they can never disagree about who gets in.
import {
  AppError,
  bearerToken,
  type AccessTokenClaims,
  type AccessTokenVerifier,
  type Logger,
  type RateLimit,
  type RateLimiter,
} from '@im-mesh/platform';
import { Status } from 'nice-grpc';
import type { EdgeRejection } from '../grpc/grpc-status.js';
import { routeOf, UNROUTED_LABEL, unroutedMessage, type MethodRoute } from '../routing/method-routes.js';

export interface AdmissionLimits {
  perIp: RateLimit;
  perUser: RateLimit;
}

export interface CallRequest {
  clientIp: string;
  /** The gRPC path, "/package.Service/Method". */
  path: string;
  /** The `authorization` header, if any. */
  authorization: string | undefined;
}

export type AdmissionDecision =
  | { admitted: true; route: MethodRoute; caller: AccessTokenClaims | undefined }
  | ({ admitted: false; routeLabel: string } & EdgeRejection);

const TOKEN_MISSING = 'This call needs an access token in the authorization header (Bearer <token>).';

export class Admission {
  constructor(
    private readonly deps: {
      rateLimiter: RateLimiter;
      verifier: AccessTokenVerifier;
      /** Read on every call, so a live-setting change applies at once. */
      limits: () => AdmissionLimits;
      logger: Logger;
    },
  ) {}

  async admitCall(request: CallRequest): Promise<AdmissionDecision> {
    const route = routeOf(request.path);
    const routeLabel = route?.label ?? UNROUTED_LABEL;
    const ipLimited = await this.limitAddress(request.clientIp);
    if (ipLimited) return { admitted: false, routeLabel, ...ipLimited };
    if (!route) return { admitted: false, routeLabel, status: Status.UNIMPLEMENTED, message: unroutedMessage(request.path) };
    if (!route.requiresToken) return { admitted: true, route, caller: undefined };

    const token = bearerToken(request.authorization);
    if (!token) return { admitted: false, routeLabel, status: Status.UNAUTHENTICATED, message: TOKEN_MISSING };
    let caller: AccessTokenClaims;
    try {
      caller = await this.deps.verifier.verify(token);
    } catch (error) {
      if (error instanceof AppError) {
        if (error.cause !== undefined) this.deps.logger.warn({ err: error.cause, route: routeLabel }, error.message);
        return { admitted: false, routeLabel, status: error.grpcStatus, message: error.message };
      }
      this.deps.logger.error({ err: error, route: routeLabel }, 'access token check failed');
      return { admitted: false, routeLabel, status: Status.INTERNAL, message: 'The access token could not be checked. Try again.' };
    }
    const userLimited = await this.take(`edge:user:${caller.userId}`, this.deps.limits().perUser, 'for your account');
    if (userLimited) return { admitted: false, routeLabel, ...userLimited };
    return { admitted: true, route, caller };
  }

  /** The per-IP limit alone, for requests that are not gRPC calls (WebSocket upgrades, preflights). */
  limitAddress(clientIp: string): Promise<EdgeRejection | undefined> {
    return this.take(`edge:ip:${clientIp}`, this.deps.limits().perIp, 'from your address');
  }

  private async take(key: string, limit: RateLimit, whose: string): Promise<EdgeRejection | undefined> {
    try {
      const decision = await this.deps.rateLimiter.take(key, limit);
      if (decision.allowed) return undefined;
      const seconds = Math.max(decision.retryAfterMs, 1) / 1000;
      return {
        status: Status.RESOURCE_EXHAUSTED,
        message: `Too many requests ${whose}; retry in ${seconds < 1 ? seconds.toFixed(2) : seconds.toFixed(1)} s.`,
      };
    } catch (error) {
      // A broken limiter store must not take the whole product down with it: the
      // limit fails open and the failure is logged for the operator.
      this.deps.logger.error({ err: error }, 'rate limiter unavailable; letting the request through');
      return undefined;
    }
  }
}

/** The caller's address without the IPv4-mapped IPv6 prefix, so one client has one key. */
export function clientAddress(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}

/** The X-Forwarded-For value to send upstream: what the client sent, then the client itself. */
export function forwardedFor(existing: string | string[] | undefined, remoteAddress: string | undefined): string {
  const before = Array.isArray(existing) ? existing.join(', ') : existing;
  const client = clientAddress(remoteAddress);
  return before ? `${before}, ${client}` : client;
}
