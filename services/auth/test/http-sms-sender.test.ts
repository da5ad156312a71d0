// The generic HTTP SMS provider against a real local HTTP server: what it
// sends, which failures it retries (with backoff) and which it does not, and
// its timeout. Nothing is mocked but the provider on the other end.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createLogger } from '@im-mesh/platform';
import { HttpSmsSender, renderSmsBody, type HttpSmsSenderOptions } from '../src/sms/http-sms-sender.js';
import type { SmsMessage } from '../src/sms/sms-sender.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

const message: SmsMessage = { to: '+4915112345678', code: '042917', purpose: 'login', text: 'Your code is 042917. "Quoted" & more' };

describe('HTTP SMS provider', () => {
  let server: Server;
  let url: string;
  let received: Received[] = [];
  /** Status per request, in order; the last one repeats. */
  let script: Array<number | 'hang'> = [200];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body, at: Date.now() });
        const step = script[Math.min(received.length - 1, script.length - 1)]!;
        if (step === 'hang') return; // never answers: the client's timeout must end it
        res.writeHead(step, { 'content-type': 'application/json' }).end('{"id":"msg-1"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received = [];
  });

  const sender = (overrides: Partial<HttpSmsSenderOptions> = {}) =>
    new HttpSmsSender({
      url,
      headers: { authorization: 'Bearer provider-api-key' },
      bodyTemplate: '{"to":"{{to}}","body":"{{text}}","kind":"{{purpose}}"}',
      bodyEncoding: 'json',
      timeoutMs: 2_000,
      retries: 2,
      backoffMs: 20,
      logger: createLogger({ service: 'auth', level: 'silent' }),
      ...overrides,
    });

  test('posts the filled template with the configured headers, JSON-escaped', async () => {
    script = [200];
    await sender().send(message);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.headers.authorization, 'Bearer provider-api-key');
    assert.equal(received[0]!.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(received[0]!.body), { to: '+4915112345678', body: message.text, kind: 'login' });
  });

  test('form encoding escapes each value so it cannot add fields', async () => {
    script = [200];
    await sender({ bodyTemplate: 'To={{to}}&Body={{text}}', bodyEncoding: 'form' }).send({ ...message, text: 'a&Evil=1 b' });
    const form = new URLSearchParams(received[0]!.body);
    assert.deepEqual([...form.keys()], ['To', 'Body']);
    assert.equal(form.get('Body'), 'a&Evil=1 b');
    assert.equal(received[0]!.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(renderSmsBody('{{code}}{{unknown}}', message, 'json'), '042917{{unknown}}');
  });

  test('a 503 then a 429 are retried with growing backoff, and the third try succeeds', async () => {
    script = [503, 429, 200];
    await sender({ backoffMs: 30 }).send(message);
    assert.equal(received.length, 3);
  });

  test('a 400 is final: one try, and the error says the status', async () => {
    script = [400];
    await assert.rejects(sender().send(message), /after 1 tries: HTTP 400/);
    assert.equal(received.length, 1);
  });

  test('retries stop after the configured number and report the last failure', async () => {
    script = [500];
    await assert.rejects(sender({ retries: 2 }).send(message), /after 3 tries: HTTP 500/);
    assert.equal(received.length, 3);
  });

  test('a provider that never answers is cut off by the timeout and retried', async () => {
    script = ['hang', 200];
    await sender({ timeoutMs: 200 }).send(message);
    assert.equal(received.length, 2);
    assert.ok(received[1]!.at - received[0]!.at >= 150, 'the second try came after the first one timed out');
  });

  test('an unreachable provider fails after its retries, without hanging', async () => {
    const closed = new HttpSmsSender({
      url: 'http://127.0.0.1:9/unreachable',
      headers: {},
      bodyTemplate: '{}',
      bodyEncoding: 'json',
      timeoutMs: 500,
      retries: 1,
      backoffMs: 10,
      logger: createLogger({ service: 'auth', level: 'silent' }),
    });
    await assert.rejects(closed.send(message), /after 2 tries/);
  });
});
