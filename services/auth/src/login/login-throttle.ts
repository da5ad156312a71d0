// Brute-force protection for everything that checks a credential (password
// login, SMS-code login, registration): token buckets per (account, address),
// per account and per address, refusing with RESOURCE_EXHAUSTED and the wait
// in the retry hint. No lockout: a bucket refills on its own, and the loose
// per-account bucket is skipped for an address that logged in to the account
// successfully in the last 30 days, so an attacker exhausting it from
// elsewhere does not keep the owner out. The argon2 work a refused attempt
// would have cost is never spent. Unknown and known accounts are throttled
// alike (keys come from what the caller typed), so throttling reveals nothing.
import { createHash } from 'node:crypto';
import { AppError, ErrorCode, type EphemeralStore, type RateLimit, type RateLimiter } from '@im-mesh/platform';
import { Counter, type Registry } from 'prom-client';
import type { LoginLimits } from './login-limits.js';

/** How long a successful login makes its address "known" for that account. */
const KNOWN_ADDRESS_TTL_SECONDS = 30 * 86_400;

export const LOGIN_THROTTLED = 'Too many attempts. Wait before trying again';

export interface LoginThrottleDeps {
  limiter: RateLimiter;
  /** Where known (account, address) pairs are remembered. */
  markers: EphemeralStore;
  limits: LoginLimits;
  /** Where the refusal counter is registered. */
  registry: Registry;
}

type LimitName = 'address' | 'account_address' | 'account';

export class LoginThrottle {
  private readonly refused: Counter<'limit'>;

  constructor(private readonly deps: LoginThrottleDeps) {
    this.refused = new Counter({
      name: 'auth_attempts_throttled_total',
      help: 'Logins and registrations refused by a brute-force limit, by limit (address, account_address, account); a rising account count is a distributed attack on one account.',
      labelNames: ['limit'],
      registers: [deps.registry],
    });
  }

  /**
   * Spends one attempt of `account` ("username:alice", "phone:<index>") from
   * `address`, or throws RESOURCE_EXHAUSTED saying how long to wait.
   */
  async admit(account: string, address: string): Promise<void> {
    const accountKey = digest(account);
    await this.spend('address', `login:address:${address}`, this.deps.limits.perAddress);
    await this.spend('account_address', `login:pair:${accountKey}:${address}`, this.deps.limits.perAccountAndAddress);
    if ((await this.deps.markers.get(knownKey(accountKey, address))) !== undefined) return;
    await this.spend('account', `login:account:${accountKey}`, this.deps.limits.perAccount);
  }

  /** Spends one attempt of `address` alone (registration, asking for an SMS code). */
  async admitAddress(address: string): Promise<void> {
    await this.spend('address', `login:address:${address}`, this.deps.limits.perAddress);
  }

  /** Remembers that `address` logged in to `account`, exempting it from the loose per-account limit. */
  async succeeded(account: string, address: string): Promise<void> {
    await this.deps.markers.put(knownKey(digest(account), address), '1', KNOWN_ADDRESS_TTL_SECONDS);
  }

  private async spend(name: LimitName, key: string, limit: RateLimit): Promise<void> {
    const decision = await this.deps.limiter.take(key, limit);
    if (decision.allowed) return;
    this.refused.inc({ limit: name });
    throw throttled(decision.retryAfterMs);
  }
}

/** The refusal every limit gives, with the wait rounded up to whole seconds. */
export function throttled(retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(Math.min(retryAfterMs, 86_400_000) / 1000));
  return new AppError(ErrorCode.ResourceExhausted, `${LOGIN_THROTTLED}: try again in ${seconds} s.`, {
    reason: 'TOO_MANY_ATTEMPTS',
    retryAfterMs: seconds * 1000,
  });
}

function knownKey(accountKey: string, address: string): string {
  return `login-known:${accountKey}:${address}`;
}

/** Keys of bounded length that do not spell out usernames or phone indexes in Redis. */
function digest(account: string): string {
  return createHash('sha256').update(account, 'utf8').digest('base64url').slice(0, 32);
}
