// Brute-force limits of password and SMS-code logins, as configuration.
// Each is "<attempts>/<seconds>": a bucket of that many attempts that refills
// evenly over that many seconds, so after a burst an attacker gets one try per
// seconds/attempts, and the refusal carries the wait (RESOURCE_EXHAUSTED with a
// retry hint) instead of a lockout.
//
// Why these limits (login-throttle.ts says how each is counted): the (account,
// client address) pair is strict, so one address cannot grind one account; the
// account alone is loose, and does not apply to an address that logged in to
// that account successfully before, so an attacker spreading tries over many
// addresses cannot lock the owner out; the address alone counts failures and
// bounds one client trying many accounts (password spraying); registrations
// per address cap account-creation floods.
import { ConfigError, type RateLimit } from '@im-mesh/platform';
import { z } from 'zod';

const RATE = /^(\d{1,7})\/(\d{1,8})$/;

/** A "<attempts>/<seconds>" setting; the message names the expected form. */
const rateSetting = (fallback: string) =>
  z
    .string()
    .regex(RATE, 'must be "<attempts>/<seconds>", e.g. "10/900"')
    .refine((value) => {
      const [, attempts, seconds] = RATE.exec(value)!;
      return Number(attempts) > 0 && Number(seconds) > 0;
    }, 'attempts and seconds must both be positive')
    .default(fallback);

export const loginLimitsConfigShape = {
  /** Logins of one account from one client address: strict. */
  AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: rateSetting('10/900'),
  /** Logins of one account from addresses that never logged in to it: loose, and never blocks known addresses. */
  AUTH_LOGIN_LIMIT_PER_ACCOUNT: rateSetting('100/3600'),
  /** Failed logins from one client address, whatever the account (successful ones are not counted). */
  AUTH_LOGIN_LIMIT_PER_ADDRESS: rateSetting('100/3600'),
  /** Registrations (password or phone) from one client address. */
  AUTH_REGISTER_LIMIT_PER_ADDRESS: rateSetting('5000/3600'),
  /**
   * Comma-separated CIDRs of proxies (the edge, Envoy, a load balancer) whose
   * X-Forwarded-For is believed. Loopback by default, which is where the embedded edge calls from;
   * "none" when clients reach auth directly.
   */
  AUTH_TRUSTED_PROXIES: z.string().default('127.0.0.0/8,::1/128'),
};

export interface LoginLimitsConfig {
  AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: string;
  AUTH_LOGIN_LIMIT_PER_ACCOUNT: string;
  AUTH_LOGIN_LIMIT_PER_ADDRESS: string;
  AUTH_REGISTER_LIMIT_PER_ADDRESS: string;
}

export interface LoginLimits {
  perAccountAndAddress: RateLimit;
  perAccount: RateLimit;
  perAddress: RateLimit;
  registrationsPerAddress: RateLimit;
}

/** "10/900" -> a bucket of 10 refilling 10 per 900 s. */
export function rateLimitOf(setting: string): RateLimit {
  const match = RATE.exec(setting);
  if (!match) throw new ConfigError(`Invalid configuration:\n  rate "${setting}" must be "<attempts>/<seconds>"`);
  const capacity = Number(match[1]);
  return { capacity, refillPerSecond: capacity / Number(match[2]) };
}

export function loginLimitsFrom(config: LoginLimitsConfig): LoginLimits {
  return {
    perAccountAndAddress: rateLimitOf(config.AUTH_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS),
    perAccount: rateLimitOf(config.AUTH_LOGIN_LIMIT_PER_ACCOUNT),
    perAddress: rateLimitOf(config.AUTH_LOGIN_LIMIT_PER_ADDRESS),
    registrationsPerAddress: rateLimitOf(config.AUTH_REGISTER_LIMIT_PER_ADDRESS),
  };
}
