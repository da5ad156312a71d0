// Shared setup for auth tests that use phone numbers: field keys for the
// config, and a real local HTTP "SMS provider" that auth's HTTP adapter posts
// to, from which tests read the codes a phone would have received.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigSource } from '@im-mesh/platform';

export interface SmsInbox {
  url: string;
  /** Every message received, in order. */
  received: Array<{ to: string; code: string; authorization: string | undefined }>;
  /** The newest code sent to `phone` after `since` messages; waits up to 3 s for it. */
  nextCode(phone: string, since?: number): Promise<string>;
  close(): Promise<void>;
}

export async function startSmsInbox(): Promise<SmsInbox> {
  const received: SmsInbox['received'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { to: string; code: string };
      received.push({ to: parsed.to, code: parsed.code, authorization: req.headers.authorization });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    received,
    async nextCode(phone, since = 0) {
      const deadline = Date.now() + 3_000;
      for (;;) {
        const match = received.slice(since).filter((m) => m.to === phone).at(-1);
        if (match) return match.code;
        if (Date.now() > deadline) throw new Error(`no SMS reached ${phone}`);
        await sleep(5);
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fresh base64 key of 32 random bytes. */
export const newKey = () => randomBytes(32).toString('base64');

/** Config turning on SMS through `inbox`, with the given field keys. */
export function smsConfig(inbox: SmsInbox, keys: { fieldKeys: string; current: string; blindIndexKey: string }): ConfigSource {
  return {
    AUTH_SMS_PROVIDER: 'http',
    AUTH_SMS_HTTP_URL: inbox.url,
    AUTH_SMS_HTTP_HEADERS: JSON.stringify({ authorization: 'Bearer sms-provider-api-key-4f1c' }),
    AUTH_SMS_HTTP_BODY: '{"to":"{{to}}","code":"{{code}}","text":"{{text}}"}',
    AUTH_FIELD_KEYS: keys.fieldKeys,
    AUTH_FIELD_KEY_CURRENT: keys.current,
    AUTH_BLIND_INDEX_KEY: keys.blindIndexKey,
  };
}
