// Which offline push notifier runs, chosen from configuration only:
// PUSH_NOTIFIER=log (the default: notices go to the log) or webhook (POSTed,
// signed, to PUSH_WEBHOOK_URL). See ports/push-notifier/.
import type { Logger } from 'pino';
import { env } from '../config/load-config.js';
import { LogPushNotifier } from '../ports/push-notifier/log-push-notifier.js';
import type { PushNotifier } from '../ports/push-notifier/push-notifier.js';
import { WebhookPushNotifier } from '../ports/push-notifier/webhook-push-notifier.js';

export const pushNotifierConfigShape = {
  /** Where notices for users with no live device go: `log` or `webhook`. */
  PUSH_NOTIFIER: env.oneOf(['log', 'webhook'], 'log'),
  /** PUSH_NOTIFIER=webhook: the URL notices are POSTed to. */
  PUSH_WEBHOOK_URL: env.optionalString(),
  /** PUSH_NOTIFIER=webhook: HMAC key (at least 16 bytes) of the x-im-signature header. */
  PUSH_WEBHOOK_SECRET: env.optionalString(),
  /** Per attempt, in ms. */
  PUSH_WEBHOOK_TIMEOUT_MS: env.millis(5_000, 100),
  /** Attempts per notice, the first included. */
  PUSH_WEBHOOK_MAX_ATTEMPTS: env.int(5, 1, 20),
  /** Put message text in notices. Off by default: ids, sender, conversation and kind only. */
  PUSH_INCLUDE_TEXT: env.bool(false),
};

export interface PushNotifierConfig {
  PUSH_NOTIFIER: 'log' | 'webhook';
  PUSH_WEBHOOK_URL?: string | undefined;
  PUSH_WEBHOOK_SECRET?: string | undefined;
  PUSH_WEBHOOK_TIMEOUT_MS: number;
  PUSH_WEBHOOK_MAX_ATTEMPTS: number;
  PUSH_INCLUDE_TEXT: boolean;
}

/**
 * The configured notifier; throws naming the missing setting for a webhook
 * without URL or secret. `onOutcome` hears how each notice ended (metrics).
 */
export function openPushNotifier(
  config: PushNotifierConfig,
  logger: Logger,
  onOutcome?: (outcome: 'delivered' | 'failed' | 'dropped') => void,
): PushNotifier {
  const child = logger.child({ component: 'push-notifier' });
  if (config.PUSH_NOTIFIER === 'log') return new LogPushNotifier({ logger: child, includeText: config.PUSH_INCLUDE_TEXT, onOutcome });
  if (!config.PUSH_WEBHOOK_URL || !config.PUSH_WEBHOOK_SECRET) {
    throw new Error('PUSH_NOTIFIER=webhook needs PUSH_WEBHOOK_URL and PUSH_WEBHOOK_SECRET');
  }
  return new WebhookPushNotifier({
    url: config.PUSH_WEBHOOK_URL,
    secret: config.PUSH_WEBHOOK_SECRET,
    logger: child,
    includeText: config.PUSH_INCLUDE_TEXT,
    timeoutMs: config.PUSH_WEBHOOK_TIMEOUT_MS,
    maxAttempts: config.PUSH_WEBHOOK_MAX_ATTEMPTS,
    onOutcome,
  });
}
