// Generic HTTP SMS provider: one request per message to a configured URL with
// configured headers (API keys live there) and a body template whose
// placeholders {{to}}, {{code}}, {{text}} and {{purpose}} are filled in, escaped
// for the body's encoding (JSON string content or form-urlencoded). Each try
// has a timeout; network errors, timeouts, 429 and 5xx are retried with
// exponential backoff and full jitter; other 4xx answers are final (a retry
// would be refused the same way). A retry after a timeout can deliver twice:
// for a verification code that is harmless, losing it is not.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@im-mesh/platform';
import { maskPhoneNumber } from '../accounts/phone-number.js';
import type { SmsMessage, SmsSender } from './sms-sender.js';

export type SmsBodyEncoding = 'json' | 'form';

export interface HttpSmsSenderOptions {
  url: string;
  /** Sent with every request; values are never logged. */
  headers: Record<string, string>;
  /** E.g. '{"to":"{{to}}","message":"{{text}}"}' or 'To={{to}}&Body={{text}}'. */
  bodyTemplate: string;
  bodyEncoding: SmsBodyEncoding;
  /** Per try, in milliseconds. */
  timeoutMs: number;
  /** Tries after the first; 0 means one try only. */
  retries: number;
  /** First backoff, doubled per retry (with full jitter), in milliseconds. */
  backoffMs: number;
  logger: Logger;
}

const PLACEHOLDER = /\{\{(to|code|text|purpose)\}\}/g;

/** Fills the template, escaping each value so it cannot break out of its slot. */
export function renderSmsBody(template: string, message: SmsMessage, encoding: SmsBodyEncoding): string {
  return template.replace(PLACEHOLDER, (_, name: keyof SmsMessage) => {
    const value = String(message[name]);
    return encoding === 'json' ? JSON.stringify(value).slice(1, -1) : encodeURIComponent(value);
  });
}

class SmsDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SmsDeliveryError';
  }
}

export class HttpSmsSender implements SmsSender {
  readonly name = 'http';

  constructor(private readonly options: HttpSmsSenderOptions) {}

  async send(message: SmsMessage, signal?: AbortSignal): Promise<void> {
    const body = renderSmsBody(this.options.bodyTemplate, message, this.options.bodyEncoding);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.tryOnce(body, signal);
        return;
      } catch (error) {
        const retryable = error instanceof SmsDeliveryError ? error.retryable : !signal?.aborted;
        if (!retryable || attempt >= this.options.retries) {
          throw new Error(`SMS provider did not accept the message after ${attempt + 1} tries: ${(error as Error).message}`);
        }
        const backoff = Math.random() * this.options.backoffMs * 2 ** attempt;
        this.options.logger.warn(
          { to: maskPhoneNumber(message.to), attempt: attempt + 1, backoffMs: Math.round(backoff), err: (error as Error).message },
          'SMS provider try failed; retrying',
        );
        await sleep(backoff, undefined, { signal });
      }
    }
  }

  private async tryOnce(body: string, signal: AbortSignal | undefined): Promise<void> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const response = await fetch(this.options.url, {
      method: 'POST',
      headers: {
        'content-type': this.options.bodyEncoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
        ...this.options.headers,
      },
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    }).catch((error: unknown) => {
      const reason = timeout.aborted ? `no answer within ${this.options.timeoutMs} ms` : (error as Error).message;
      throw new SmsDeliveryError(reason, !signal?.aborted);
    });
    // Drain the body so the connection can be reused; its content may echo the
    // message, so it is not logged.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return;
    throw new SmsDeliveryError(`HTTP ${response.status}`, response.status === 429 || response.status >= 500);
  }
}
