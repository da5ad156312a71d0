// pino JSON logs. Secrets never reach a log line: the redact list covers every
// field name that can carry a token, password, code or key.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'password',
  '*.password',
  'ciphertext',
  '*.ciphertext',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'access_token',
  'refreshToken',
  '*.refreshToken',
  'refresh_token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'smsCode',
  '*.smsCode',
  'secret',
  '*.secret',
  'privateKey',
  '*.privateKey',
];

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where lines go; stdout when omitted. Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
