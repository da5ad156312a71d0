// Development SMS provider: nothing leaves the machine; the code is written to
// the log so a developer can type it in. Only when the configuration says
// development mode (AUTH_DEVELOPMENT_MODE=true) does the line show the code
// and number; otherwise (allowed explicitly with AUTH_SMS_CONSOLE_ALLOWED) it
// only records that a code would have been sent, which is useless to an
// attacker reading logs and to a user alike.
import type { Logger } from '@im-mesh/platform';
import { maskPhoneNumber } from '../accounts/phone-number.js';
import type { SmsMessage, SmsSender } from './sms-sender.js';

export class ConsoleSmsSender implements SmsSender {
  readonly name = 'console';

  constructor(
    private readonly logger: Logger,
    private readonly options: { revealCodes: boolean },
  ) {}

  async send(message: SmsMessage): Promise<void> {
    if (this.options.revealCodes) {
      this.logger.warn({ purpose: message.purpose }, `development SMS to ${message.to}: ${message.text}`);
    } else {
      this.logger.info({ to: maskPhoneNumber(message.to), purpose: message.purpose }, 'SMS code not delivered: the console provider only logs (not in development mode, so the code is hidden)');
    }
  }
}
