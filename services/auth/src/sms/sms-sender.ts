// SmsSender: the port through which auth hands a verification code to an SMS
// provider. Adapters: console-sms-sender.ts (development: writes to the log)
// and http-sms-sender.ts (any provider with an HTTP API).
//
// Contract:
// - `send` resolves once the provider accepted the message, and rejects when it
//   did not (after the adapter's own retries). It is called off the request
//   path, so its duration never shows in the caller's answer.
// - An adapter never logs `code`, `text` or the full number, except the console
//   adapter in development mode, whose whole point is showing the code.

export type SmsPurpose = 'register' | 'login' | 'reset_password';

export interface SmsMessage {
  /** E.164, e.g. "+4915112345678". */
  to: string;
  /** The six digits, for providers whose templates take the code alone. */
  code: string;
  purpose: SmsPurpose;
  /** The full text to send, with the code in it. */
  text: string;
}

export interface SmsSender {
  /** Names the adapter in logs and metrics ("console", "http"). */
  readonly name: string;
  send(message: SmsMessage, signal?: AbortSignal): Promise<void>;
}
