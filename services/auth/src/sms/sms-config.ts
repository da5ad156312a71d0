// SMS settings of auth and the choice of provider, made once at start. The
// console provider shows codes only in development mode; outside it, auth
// refuses to start with it unless AUTH_SMS_CONSOLE_ALLOWED says that codes
// going nowhere is intended (a staging system without an SMS contract).
import { ConfigError, env, type Logger } from '@im-mesh/platform';
import { z } from 'zod';
import { rateLimitOf } from '../login/login-limits.js';
import { ConsoleSmsSender } from './console-sms-sender.js';
import { HttpSmsSender } from './http-sms-sender.js';
import type { SmsSendLimits } from './sms-codes.js';
import type { SmsSender } from './sms-sender.js';

const rate = (fallback: string) => z.string().regex(/^\d{1,7}\/\d{1,8}$/, 'must be "<count>/<seconds>", e.g. "20/3600"').default(fallback);

export const smsConfigShape = {
  /** `disabled` (SMS RPCs answer FAILED_PRECONDITION), `console` (development) or `http`. */
  AUTH_SMS_PROVIDER: env.oneOf(['disabled', 'console', 'http'], 'disabled'),
  /** Development mode: the console SMS provider writes codes to the log. Never in production. */
  AUTH_DEVELOPMENT_MODE: env.bool(false),
  /** Lets the console provider run outside development mode, where it hides the codes. */
  AUTH_SMS_CONSOLE_ALLOWED: env.bool(false),
  /** Lifetime of an SMS code, in seconds: 30 to 300 (5 minutes, the default and the most allowed). */
  AUTH_SMS_CODE_TTL_SECONDS: env.int(300, 30, 300),
  /** Codes sent per phone number, short window, "<count>/<seconds>": one a minute. */
  AUTH_SMS_LIMIT_PER_NUMBER: rate('1/60'),
  /** Codes sent per phone number, long window, "<count>/<seconds>": ten a day. */
  AUTH_SMS_LIMIT_PER_NUMBER_DAILY: rate('10/86400'),
  /** Codes sent per client address, "<count>/<seconds>". */
  AUTH_SMS_LIMIT_PER_ADDRESS: rate('20/3600'),
  /** Codes sent per country calling code, "<count>/<seconds>" (bounds toll fraud to one expensive country). */
  AUTH_SMS_LIMIT_PER_COUNTRY: rate('1000/3600'),
  /** HTTP provider: the URL every message is POSTed to. */
  AUTH_SMS_HTTP_URL: env.optionalString(),
  /** HTTP provider: a JSON object of request headers, e.g. {"authorization":"Bearer ..."}. Never logged. */
  AUTH_SMS_HTTP_HEADERS: env.optionalString(),
  /** HTTP provider: the body with {{to}}, {{code}}, {{text}}, {{purpose}} placeholders. */
  AUTH_SMS_HTTP_BODY: env.string('{"to":"{{to}}","text":"{{text}}"}'),
  /** HTTP provider: how placeholders are escaped and the content type: `json` or `form`. */
  AUTH_SMS_HTTP_BODY_ENCODING: env.oneOf(['json', 'form'], 'json'),
  /** HTTP provider: timeout of one try, in milliseconds. */
  AUTH_SMS_HTTP_TIMEOUT_MS: env.millis(5_000, 100),
  /** HTTP provider: retries after the first try (network errors, timeouts, 429, 5xx). */
  AUTH_SMS_HTTP_RETRIES: env.int(2, 0, 5),
  /** HTTP provider: first retry backoff in milliseconds, doubled per retry, with jitter. */
  AUTH_SMS_HTTP_BACKOFF_MS: env.millis(250, 1),
};

export type SmsConfig = z.infer<z.ZodObject<typeof smsConfigShape>>;

/** The provider the configuration asks for; undefined when SMS is disabled. Throws ConfigError naming the key. */
export function smsSenderFrom(config: SmsConfig, logger: Logger): SmsSender | undefined {
  switch (config.AUTH_SMS_PROVIDER) {
    case 'disabled':
      return undefined;
    case 'console':
      if (!config.AUTH_DEVELOPMENT_MODE && !config.AUTH_SMS_CONSOLE_ALLOWED) {
        throw new ConfigError(
          'Invalid configuration:\n  AUTH_SMS_PROVIDER: "console" delivers no SMS; use it with AUTH_DEVELOPMENT_MODE=true ' +
            '(codes are logged), or set AUTH_SMS_CONSOLE_ALLOWED=true to run it anyway (codes are hidden), or configure "http"',
        );
      }
      if (config.AUTH_DEVELOPMENT_MODE) logger.warn('development mode: SMS codes are written to this log; never run this in production');
      return new ConsoleSmsSender(logger, { revealCodes: config.AUTH_DEVELOPMENT_MODE });
    case 'http': {
      if (!config.AUTH_SMS_HTTP_URL || !URL.canParse(config.AUTH_SMS_HTTP_URL)) {
        throw new ConfigError('Invalid configuration:\n  AUTH_SMS_HTTP_URL: the http SMS provider needs an absolute URL');
      }
      return new HttpSmsSender({
        url: config.AUTH_SMS_HTTP_URL,
        headers: parseHeaders(config.AUTH_SMS_HTTP_HEADERS),
        bodyTemplate: config.AUTH_SMS_HTTP_BODY,
        bodyEncoding: config.AUTH_SMS_HTTP_BODY_ENCODING,
        timeoutMs: config.AUTH_SMS_HTTP_TIMEOUT_MS,
        retries: config.AUTH_SMS_HTTP_RETRIES,
        backoffMs: config.AUTH_SMS_HTTP_BACKOFF_MS,
        logger,
      });
    }
  }
}

export function smsSendLimitsFrom(config: SmsConfig): SmsSendLimits {
  return {
    perNumber: rateLimitOf(config.AUTH_SMS_LIMIT_PER_NUMBER),
    perNumberDaily: rateLimitOf(config.AUTH_SMS_LIMIT_PER_NUMBER_DAILY),
    perAddress: rateLimitOf(config.AUTH_SMS_LIMIT_PER_ADDRESS),
    perCountry: rateLimitOf(config.AUTH_SMS_LIMIT_PER_COUNTRY),
  };
}

/** Parses the headers object; the message never includes the value, which holds credentials. */
function parseHeaders(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const valid =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.values(parsed).every((value) => typeof value === 'string');
  if (!valid) throw new ConfigError('Invalid configuration:\n  AUTH_SMS_HTTP_HEADERS: must be a JSON object of string values (value hidden)');
  return parsed as Record<string, string>;
}
