// PushNotifier that POSTs each notice as JSON to a team's endpoint, which
// bridges to APNs, FCM or anything else. The receiver checks the signature:
//   x-im-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// (the timestamp is signed so a captured request cannot be replayed later; see
// verifyWebhookSignature), and may dedupe by x-im-delivery-id (the message id),
// since a retry after a lost answer delivers a notice twice.
// Network errors, timeouts, 408, 429 and 5xx are retried with exponential
// backoff and jitter; other answers are final. At most `maxInFlight` notices are
// pending at once; beyond that new ones are dropped (and counted), so a dead
// endpoint cannot grow memory without bound.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { offlineNoticePayload, type OfflineNotice, type PushNotifier } from './push-notifier.js';

export interface WebhookPushNotifierOptions {
  /** http(s) URL the notices are POSTed to. */
  url: string;
  /** HMAC key for the signature header, at least 16 bytes. */
  secret: string | Uint8Array;
  logger: Logger;
  /** Send message text too. False by default (privacy). */
  includeText?: boolean;
  /** Per attempt, in ms. 5,000 by default. */
  timeoutMs?: number;
  /** Attempts per notice, the first included. 5 by default. */
  maxAttempts?: number;
  /** Backoff before the second attempt, doubling after each, in ms. 200 by default. */
  baseDelayMs?: number;
  /** Longest backoff, in ms. 10,000 by default. */
  maxDelayMs?: number;
  /** Notices pending (sending or waiting to retry) at once; more are dropped. 256 by default. */
  maxInFlight?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
  /** Told how each notice ended, for metrics. */
  onOutcome?: (outcome: keyof WebhookCounters) => void;
}

export interface WebhookCounters {
  delivered: number;
  /** Given up after the last attempt or a final refusal. */
  failed: number;
  /** Not attempted: too many pending, or the notifier was closed. */
  dropped: number;
}

export const SIGNATURE_HEADER = 'x-im-signature';
export const DELIVERY_ID_HEADER = 'x-im-delivery-id';

export class WebhookPushNotifier implements PushNotifier {
  readonly counters: WebhookCounters = { delivered: 0, failed: 0, dropped: 0 };
  private readonly secret: Buffer;
  private readonly pending = new Set<Promise<void>>();
  private readonly stop = new AbortController();
  private readonly now: () => number;

  constructor(private readonly options: WebhookPushNotifierOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('the push webhook URL must start with http:// or https://');
    this.secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret);
    if (this.secret.length < 16) throw new Error('the push webhook secret must be at least 16 bytes');
    this.now = options.now ?? Date.now;
  }

  notify(notice: OfflineNotice): Promise<void> {
    if (this.stop.signal.aborted || this.pending.size >= (this.options.maxInFlight ?? 256)) {
      this.count('dropped');
      this.options.logger.warn({ messageId: notice.messageId, pending: this.pending.size }, 'offline push notice dropped: too many pending or closing');
      return Promise.resolve();
    }
    const delivery = this.deliver(notice).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
    return delivery;
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled([...this.pending]);
  }

  private async deliver(notice: OfflineNotice): Promise<void> {
    const body = JSON.stringify(offlineNoticePayload(notice, this.options.includeText ?? false));
    const maxAttempts = this.options.maxAttempts ?? 5;
    let lastProblem = '';
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (this.stop.signal.aborted) break;
      const outcome = await this.attempt(notice.messageId, body);
      if (outcome === 'delivered') {
        this.count('delivered');
        return;
      }
      lastProblem = outcome.problem;
      if (!outcome.retry) break;
      if (attempt < maxAttempts && !(await this.backoff(attempt))) break;
    }
    this.count('failed');
    // No payload in the log: the ids are enough to find the message.
    this.options.logger.warn(
      { messageId: notice.messageId, recipients: notice.recipientIds.length, problem: lastProblem },
      'offline push notice not delivered to the webhook; the recipients still get the message when they sync',
    );
  }

  private count(outcome: keyof WebhookCounters): void {
    this.counters[outcome] += 1;
    this.options.onOutcome?.(outcome);
  }

  private async attempt(messageId: string, body: string): Promise<'delivered' | { retry: boolean; problem: string }> {
    const timestamp = Math.floor(this.now() / 1000);
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhookBody(this.secret, timestamp, body),
          [DELIVERY_ID_HEADER]: messageId,
        },
        body,
        signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.options.timeoutMs ?? 5_000)]),
      });
      // The body is not needed; reading it frees the connection for reuse.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return 'delivered';
      const retry = response.status === 408 || response.status === 429 || response.status >= 500;
      return { retry, problem: `HTTP ${response.status}` };
    } catch (error) {
      return { retry: true, problem: (error as Error).name === 'TimeoutError' ? 'timed out' : (error as Error).message };
    }
  }

  /** Waits before attempt `attempt + 1`; false when closed meanwhile. */
  private async backoff(attempt: number): Promise<boolean> {
    const base = this.options.baseDelayMs ?? 200;
    const capped = Math.min(this.options.maxDelayMs ?? 10_000, base * 2 ** (attempt - 1));
    // Full jitter in the upper half, so many notices failing together do not retry in lockstep.
    const delay = capped / 2 + Math.random() * (capped / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.stop.signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, delay);
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      this.stop.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** The x-im-signature value for `body` sent at `timestamp` (Unix seconds). */
export function signWebhookBody(secret: Uint8Array, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * For receivers: true when `header` signs `body` under `secret` and its
 * timestamp is within `toleranceSeconds` (300 by default) of `nowMs`.
 */
export function verifyWebhookSignature(
  secret: string | Uint8Array,
  header: string,
  body: string,
  nowMs: number = Date.now(),
  toleranceSeconds = 300,
): boolean {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (!match) return false;
  const timestamp = Number(match[1]);
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceSeconds) return false;
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const expected = Buffer.from(signWebhookBody(key, timestamp, body));
  const given = Buffer.from(header.trim());
  return expected.length === given.length && timingSafeEqual(expected, given);
}
