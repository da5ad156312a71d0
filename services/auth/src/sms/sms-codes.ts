// SMS verification codes: six random digits, bound to one phone number and one
// purpose, single use, alive for at most five minutes, at most five tries.
// Only an HMAC of (purpose, number, code) is stored, in the ephemeral store
// (Redis when distributed), under a key derived from the number's blind index,
// so neither a Redis dump nor its key names reveal codes or numbers.
//
// Sending answers the same whether or not an account has the number: no
// account is looked up, and delivery runs after the answer, so neither the
// reply nor its timing depends on the number. Sending is limited per number
// (1 a minute and 10 a day by default), per client address and per country
// calling code.
import { createHmac, randomInt } from 'node:crypto';
import type { BlindIndex, EphemeralStore, Logger, RateDecision, RateLimit, RateLimiter } from '@im-mesh/platform';
import { Counter, type Registry } from 'prom-client';
import { countryCallingCode, maskPhoneNumber } from '../accounts/phone-number.js';
import { throttled } from '../login/login-throttle.js';
import type { SmsPurpose, SmsSender } from './sms-sender.js';

export const SMS_CODE_DIGITS = 6;
export const SMS_CODE_MAX_ATTEMPTS = 5;
const CODE_PATTERN = /^[0-9]{6}$/;
/** One a minute and ten a day per number, unless configured otherwise. */
export const DEFAULT_PER_NUMBER: RateLimit = { capacity: 1, refillPerSecond: 1 / 60 };
export const DEFAULT_PER_NUMBER_DAILY: RateLimit = { capacity: 10, refillPerSecond: 10 / 86_400 };

export interface SmsSendLimits {
  perNumber: RateLimit;
  perNumberDaily: RateLimit;
  perAddress: RateLimit;
  perCountry: RateLimit;
}

export interface SmsCodesDeps {
  store: EphemeralStore;
  limiter: RateLimiter;
  sender: SmsSender;
  blindIndex: BlindIndex;
  /** At most 300. */
  codeTtlSeconds: number;
  limits: SmsSendLimits;
  registry: Registry;
  logger: Logger;
  now?: () => number;
}

export interface SentCode {
  /** When the code stops working. */
  expiresAt: Date;
  /** Earliest moment another code for this number may be asked for. */
  resendAllowedAt: Date;
}

export class SmsCodes {
  private readonly codeKey: Buffer;
  private readonly now: () => number;
  private readonly deliveries = new Set<Promise<void>>();
  private readonly sent: Counter<'outcome'>;
  private readonly verified: Counter<'outcome'>;

  constructor(private readonly deps: SmsCodesDeps) {
    if (deps.codeTtlSeconds > 300 || deps.codeTtlSeconds <= 0) throw new RangeError('SMS codes live at most 300 seconds');
    this.codeKey = deps.blindIndex.deriveKey('sms code v1');
    this.now = deps.now ?? Date.now;
    this.sent = new Counter({
      name: 'auth_sms_codes_sent_total',
      help: 'SMS codes by delivery outcome (delivered, failed: the provider refused or timed out after retries).',
      labelNames: ['outcome'],
      registers: [deps.registry],
    });
    this.verified = new Counter({
      name: 'auth_sms_code_checks_total',
      help: 'SMS code checks by outcome (accepted, rejected, exhausted: the fifth wrong try burnt the code).',
      labelNames: ['outcome'],
      registers: [deps.registry],
    });
  }

  /**
   * Issues a code for `phone` (normalised E.164) and `purpose`, replacing any
   * earlier one, and hands it to the provider after returning. Throws
   * RESOURCE_EXHAUSTED with a retry hint when a send limit is reached.
   */
  async send(phone: string, purpose: SmsPurpose, address: string): Promise<SentCode> {
    const number = this.numberKey(phone);
    // The caller's own budget first, so a flood from one address stops there
    // instead of using up the victims' per-number allowance.
    await this.spend(`sms:address:${address}`, this.deps.limits.perAddress);
    const perNumber = await this.spend(`sms:number:${number}`, this.deps.limits.perNumber);
    await this.spend(`sms:number-daily:${number}`, this.deps.limits.perNumberDaily);
    await this.spend(`sms:country:${countryCallingCode(phone)}`, this.deps.limits.perCountry);

    const code = String(randomInt(0, 10 ** SMS_CODE_DIGITS)).padStart(SMS_CODE_DIGITS, '0');
    const ttl = this.deps.codeTtlSeconds;
    await this.deps.store.put(codeKeyOf(purpose, number), this.mac(purpose, phone, code), ttl);
    // A new code gets a fresh five tries; the old code is gone with its key.
    await this.deps.store.take(attemptsKeyOf(purpose, number));

    const minutes = Math.max(1, Math.round(ttl / 60));
    const text = `Your im-mesh code is ${code}. It expires in ${minutes} min. Never share it: we will never ask for it.`;
    this.deliver(phone, purpose, code, text);
    const now = this.now();
    const nextTokenMs = perNumber.remaining >= 1 ? 0 : Math.ceil(1000 / this.deps.limits.perNumber.refillPerSecond);
    return { expiresAt: new Date(now + ttl * 1000), resendAllowedAt: new Date(now + nextTokenMs) };
  }

  /**
   * True, once, when `code` is the live code of `phone` for `purpose`. A wrong
   * try counts; the fifth wrong try burns the code. Never throws for a bad code.
   */
  async verify(phone: string, purpose: SmsPurpose, code: string): Promise<boolean> {
    const number = this.numberKey(phone);
    const attempts = await this.deps.store.increment(attemptsKeyOf(purpose, number), this.deps.codeTtlSeconds);
    if (attempts > SMS_CODE_MAX_ATTEMPTS) {
      await this.deps.store.take(codeKeyOf(purpose, number));
      this.verified.inc({ outcome: 'exhausted' });
      return false;
    }
    const accepted = CODE_PATTERN.test(code) && (await this.deps.store.takeIfEqual(codeKeyOf(purpose, number), this.mac(purpose, phone, code)));
    if (accepted) await this.deps.store.take(attemptsKeyOf(purpose, number));
    else if (attempts === SMS_CODE_MAX_ATTEMPTS) await this.deps.store.take(codeKeyOf(purpose, number));
    this.verified.inc({ outcome: accepted ? 'accepted' : attempts === SMS_CODE_MAX_ATTEMPTS ? 'exhausted' : 'rejected' });
    return accepted;
  }

  /** Waits for deliveries still in flight (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.deliveries]);
  }

  private deliver(phone: string, purpose: SmsPurpose, code: string, text: string): void {
    const delivery = this.deps.sender
      .send({ to: phone, code, purpose, text })
      .then(() => this.sent.inc({ outcome: 'delivered' }))
      .catch((error: unknown) => {
        this.sent.inc({ outcome: 'failed' });
        this.deps.logger.error(
          { to: maskPhoneNumber(phone), purpose, provider: this.deps.sender.name, err: (error as Error).message },
          'SMS code could not be delivered',
        );
      })
      .finally(() => this.deliveries.delete(delivery));
    this.deliveries.add(delivery);
  }

  private async spend(key: string, limit: RateLimit): Promise<RateDecision> {
    const decision = await this.deps.limiter.take(key, limit);
    if (!decision.allowed) throw throttled(decision.retryAfterMs);
    return decision;
  }

  private numberKey(phone: string): string {
    return this.deps.blindIndex.of('phone', phone).toString('base64url');
  }

  private mac(purpose: SmsPurpose, phone: string, code: string): string {
    return createHmac('sha256', this.codeKey).update(`${purpose}\u0000${phone}\u0000${code}`).digest('base64url');
  }
}

function codeKeyOf(purpose: SmsPurpose, number: string): string {
  return `sms-code:${purpose}:${number}`;
}

function attemptsKeyOf(purpose: SmsPurpose, number: string): string {
  return `sms-attempts:${purpose}:${number}`;
}
