// PushNotifier that only writes each notice to the log: the default, so a
// fresh install shows where offline pushes would go without any endpoint.
import type { Logger } from 'pino';
import { offlineNoticePayload, type OfflineNotice, type PushNotifier } from './push-notifier.js';

export interface LogPushNotifierOptions {
  logger: Logger;
  /** Log message text too. False by default: logs are not a place for chats. */
  includeText?: boolean;
  /** Told of each notice logged, for metrics. */
  onOutcome?: (outcome: 'delivered') => void;
}

export class LogPushNotifier implements PushNotifier {
  private closed = false;

  constructor(private readonly options: LogPushNotifierOptions) {}

  async notify(notice: OfflineNotice): Promise<void> {
    if (this.closed) return;
    this.options.logger.info({ notice: offlineNoticePayload(notice, this.options.includeText ?? false) }, 'offline push notice');
    this.options.onOutcome?.('delivered');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
