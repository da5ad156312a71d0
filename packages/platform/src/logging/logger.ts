// pino JSON logs. Secrets never reach a log line: the redact list covers every
// field name that can carry a token, password, code or key.
import { pino, type Logger } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'password',
  'ciphertext',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'authorization',
  'Authorization',
  'smsCode',
  'sms_code',
  'secret',
  'privateKey',
  'private_key',
];

/** Secret fields at the top level and up to three levels deep, and request headers. */
export const REDACTED_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.*.${f}`),
  'req.headers["sec-websocket-protocol"]',
  'headers["sec-websocket-protocol"]',
];

export interface LoggerOptions {
  /**
   * Set as `service` on every line. Leave it out for a root logger whose children
   * each name their service (the all-in-one), so no line carries the key twice.
   */
  service?: string;
  level?: string;
  /** Where lines go; stdout when omitted. Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: options.service ? { service: options.service } : {},
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
