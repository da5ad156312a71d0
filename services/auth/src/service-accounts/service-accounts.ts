// Service accounts: the credentials internal callers (other services, internal
// teams' tools) present instead of a user's token. Each account has a client id,
// a secret and one global role ("service" for the mesh's own services, "admin"
// for the admin API). They come from configuration (AUTH_SERVICE_ACCOUNTS,
// entries "client-id:role:secret"), so a deployment provisions them the way it
// provisions every other secret; only SHA-256 digests of the secrets stay in
// memory. IssueServiceToken exchanges id + secret for a short-lived service token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError, SERVICE_ROLES, type Logger, type ServiceRole } from '@im-mesh/platform';
import type { TokenIssuer } from '../sessions/token-issuer.js';

/** Secrets shorter than this are refused at start: they could be guessed. */
export const MIN_SECRET_CHARS = 32;
const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const REFUSED = 'The client id or secret is wrong.';

interface ServiceAccount {
  clientId: string;
  role: ServiceRole;
  secretDigest: Buffer;
}

/**
 * Parses AUTH_SERVICE_ACCOUNTS entries. Throws an Error naming the entry (never
 * its secret) when one is malformed, so a typo fails the start.
 */
export function parseServiceAccounts(entries: readonly string[]): Map<string, ServiceAccount> {
  const accounts = new Map<string, ServiceAccount>();
  entries.forEach((entry, index) => {
    const first = entry.indexOf(':');
    const second = entry.indexOf(':', first + 1);
    const clientId = entry.slice(0, first);
    const role = entry.slice(first + 1, second);
    const secret = entry.slice(second + 1);
    const where = `AUTH_SERVICE_ACCOUNTS entry ${index + 1}`;
    if (first < 0 || second < 0) throw new Error(`${where} must look like client-id:role:secret`);
    if (!CLIENT_ID_PATTERN.test(clientId)) throw new Error(`${where}: the client id must be 1-64 letters, digits, '_', '.' or '-'`);
    if (!SERVICE_ROLES.includes(role as ServiceRole)) throw new Error(`${where} (${clientId}): the role must be one of ${SERVICE_ROLES.join(', ')}`);
    if (secret.length < MIN_SECRET_CHARS) throw new Error(`${where} (${clientId}): the secret must have at least ${MIN_SECRET_CHARS} characters`);
    if (accounts.has(clientId)) throw new Error(`${where}: the client id ${clientId} appears twice`);
    accounts.set(clientId, { clientId, role: role as ServiceRole, secretDigest: digest(secret) });
  });
  return accounts;
}

export interface ServiceTokenGrant {
  serviceToken: string;
  expiresInSeconds: number;
}

export class ServiceAccounts {
  constructor(
    private readonly accounts: Map<string, ServiceAccount>,
    private readonly issuer: TokenIssuer,
    private readonly tokenTtlSeconds: number,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Checks the credentials and issues a service token; UNAUTHENTICATED, the same for any mistake. */
  issueToken(clientId: string, clientSecret: string): ServiceTokenGrant {
    const account = this.accounts.get(clientId);
    // An unknown id is compared against a digest of nothing, so a wrong id and a
    // wrong secret take the same work and get the same answer.
    const expected = account?.secretDigest ?? digest('');
    const matches = timingSafeEqual(digest(clientSecret), expected) && account !== undefined;
    if (!matches) {
      this.logger.info({ clientId: CLIENT_ID_PATTERN.test(clientId) ? clientId : '(malformed)' }, 'service token refused');
      throw AppError.unauthenticated(REFUSED, 'CLIENT_CREDENTIALS_REFUSED');
    }
    const { token } = this.issuer.serviceToken(account.clientId, account.role, this.tokenTtlSeconds, this.now());
    return { serviceToken: token, expiresInSeconds: this.tokenTtlSeconds };
  }
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}
