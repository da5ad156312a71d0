// The calling side of service accounts: a process that calls another service's
// internal methods (im.internal.v1) proves who it is with a short-lived service
// token, exchanged at auth for its own client id and secret (never a user's
// token). The token is cached and renewed before it runs out, one exchange at a
// time however many calls are waiting, and added to every call of a client made
// with `serviceToken`.
import type { adminV1 } from '@im-mesh/contracts';
import { Metadata, type ClientMiddleware } from 'nice-grpc';
import { ConfigError, env } from '../config/load-config.js';

export interface ServiceCredentials {
  clientId: string;
  clientSecret: string;
}

/** The caller side of a service account: SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET (auth's AUTH_SERVICE_ACCOUNTS entry). */
export const serviceCredentialsConfig = {
  /** This process's service account at auth, used for internal calls to other services. */
  SERVICE_CLIENT_ID: env.optionalString(),
  /** Its secret (32+ characters). */
  SERVICE_CLIENT_SECRET: env.optionalString(),
};

/** The credentials the configuration names, or undefined; ConfigError when only one half is set. */
export function serviceCredentialsFrom(config: { SERVICE_CLIENT_ID?: string | undefined; SERVICE_CLIENT_SECRET?: string | undefined }): ServiceCredentials | undefined {
  const { SERVICE_CLIENT_ID: clientId, SERVICE_CLIENT_SECRET: clientSecret } = config;
  if (clientId === undefined && clientSecret === undefined) return undefined;
  if (clientId === undefined || clientSecret === undefined) {
    throw new ConfigError('Invalid configuration:\n  SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET: set both (a service account of AUTH_SERVICE_ACCOUNTS) or neither');
  }
  return { clientId, clientSecret };
}

export type IssueServiceToken = (request: adminV1.IssueServiceTokenRequest) => Promise<adminV1.IssueServiceTokenResponse>;

export class ServiceTokenSource {
  private cached: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly issue: IssueServiceToken,
    private readonly credentials: ServiceCredentials,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token valid for a while yet: the cached one, or a fresh one (one exchange in flight at most). */
  async token(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return this.cached.token;
    this.pending ??= this.exchange().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async exchange(): Promise<string> {
    const answer = await this.issue({ clientId: this.credentials.clientId, clientSecret: this.credentials.clientSecret });
    // Renewed after 80% of its life, so a call never leaves with a token about to expire.
    this.cached = { token: answer.serviceToken, renewAt: this.now() + answer.expiresInSeconds * 800 };
    return answer.serviceToken;
  }
}

/** Adds `authorization: Bearer <service token>` to every call that carries no authorization of its own. */
export function serviceTokenMiddleware(source: ServiceTokenSource): ClientMiddleware {
  return async function* (call, options) {
    const metadata = Metadata(options.metadata);
    if (!metadata.has('authorization')) metadata.set('authorization', `Bearer ${await source.token()}`);
    return yield* call.next(call.request, { ...options, metadata });
  };
}

