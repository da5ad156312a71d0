// Brute-force protection for everything that checks a credential (password
// login, SMS-code login, password reset) and for registration. Token buckets,
// refusing with RESOURCE_EXHAUSTED and the wait in the retry hint; no lockout,
// since every bucket refills on its own. Keys come from what the caller typed,
// so unknown and known accounts are throttled alike and throttling reveals
// nothing. A refused attempt costs no argon2 time.
//
// - (account, address), strict: every attempt spends a token before the
//   credential is checked, so concurrent guesses cannot overshoot it. A
//   successful login starts a fresh bucket for that pair (its key carries a
//   generation that success renews), so an owner logging in often, or one
//   account on hundreds of devices, is never slowed down.
// - account, loose: spent by attempts from addresses that have not logged in
//   to the account in the last 30 days, so an attacker spreading guesses over
//   many addresses exhausts it without locking the owner out.
// - address, for password spraying: counts failures only (checked before, spent
//   after), so an office behind one NAT address, or a test harness, logging in
//   many users never meets it; concurrent calls may overshoot it by the number
//   in flight, which the bounded argon2 queue caps.
// - registration per address: every registration spends a token (a flood cap).
import { createHash, randomBytes } from 'node:crypto';
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

type LimitName = 'address' | 'account_address' | 'account' | 'registration';

export class LoginThrottle {
  private readonly refused: Counter<'limit'>;

  constructor(private readonly deps: LoginThrottleDeps) {
    this.refused = new Counter({
      name: 'auth_attempts_throttled_total',
      help: 'Logins and registrations refused by a brute-force limit, by limit (address, account_address, account, registration); a rising account count is a distributed attack on one account.',
      labelNames: ['limit'],
      registers: [deps.registry],
    });
  }

  /**
   * Lets one attempt at `account` ("username:alice", "phone:<index>") from
   * `address` go ahead, or throws RESOURCE_EXHAUSTED saying how long to wait.
   * Follow it with `failed` or `succeeded`.
   */
  async admit(account: string, address: string): Promise<void> {
    const accountKey = digest(account);
    const generation = await this.deps.markers.get(knownKey(accountKey, address));
    await this.check('address', failuresKey(address), this.deps.limits.perAddress);
    await this.spend('account_address', `login:pair:${accountKey}:${address}:${generation ?? 'new'}`, this.deps.limits.perAccountAndAddress);
    if (generation !== undefined) return;
    await this.spend('account', `login:account:${accountKey}`, this.deps.limits.perAccount);
  }

  /**
   * Runs a credential check admitted by `admit`, counting it as a failure of
   * `address` when it ends UNAUTHENTICATED (a wrong password or code).
   */
  async counting<T>(address: string, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.Unauthenticated) await this.failed(address);
      throw error;
    }
  }

  /** Counts a failed attempt from `address` against the spraying limit. */
  async failed(address: string): Promise<void> {
    // Refused when the bucket is already empty: then there is nothing to take.
    await this.deps.limiter.take(failuresKey(address), this.deps.limits.perAddress);
  }

  /**
   * Remembers that `address` logged in to `account`: exempt from the loose
   * per-account limit for 30 days, and a fresh (account, address) bucket.
   */
  async succeeded(account: string, address: string): Promise<void> {
    await this.deps.markers.put(knownKey(digest(account), address), randomBytes(9).toString('base64url'), KNOWN_ADDRESS_TTL_SECONDS);
  }

  /** Spends one registration of `address`, or throws RESOURCE_EXHAUSTED. */
  async admitRegistration(address: string): Promise<void> {
    await this.spend('registration', `register:address:${address}`, this.deps.limits.registrationsPerAddress);
  }

  private async spend(name: LimitName, key: string, limit: RateLimit): Promise<void> {
    const decision = await this.deps.limiter.take(key, limit);
    if (decision.allowed) return;
    this.refused.inc({ limit: name });
    throw throttled(decision.retryAfterMs);
  }

  /** Refuses when the bucket holds less than one token, without spending any (a take of cost 0). */
  private async check(name: LimitName, key: string, limit: RateLimit): Promise<void> {
    const decision = await this.deps.limiter.take(key, limit, 0);
    if (decision.remaining >= 1) return;
    this.refused.inc({ limit: name });
    throw throttled(limit.refillPerSecond > 0 ? Math.ceil(1000 / limit.refillPerSecond) : Number.MAX_SAFE_INTEGER);
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

function failuresKey(address: string): string {
  return `login:failures:${address}`;
}

/** Keys of bounded length that do not spell out usernames or phone indexes in Redis. */
function digest(account: string): string {
  return createHash('sha256').update(account, 'utf8').digest('base64url').slice(0, 32);
}
