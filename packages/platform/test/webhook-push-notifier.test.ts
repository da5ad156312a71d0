// WebhookPushNotifier against the push-notifier contract and a real local HTTP
// server: the signature a receiver checks, retries with backoff, the timeout,
// final refusals, and the bound on pending notices.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import {
  createLogger,
  DELIVERY_ID_HEADER,
  SIGNATURE_HEADER,
  verifyWebhookSignature,
  WebhookPushNotifier,
  type OfflineNotice,
  type OfflineNoticePayload,
  type WebhookPushNotifierOptions,
} from '@im-mesh/platform';
import { describePushNotifierContract } from '../src/ports/push-notifier/push-notifier.contract.js';

const SECRET = 'webhook-secret-for-tests-0123456789';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP endpoint; `answer` decides each response (200 by default). */
async function startEndpoint(answer: (request: Received, index: number) => number | 'hang' = () => 200) {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(request);
      const status = answer(request, received.length - 1);
      if (status === 'hang') return; // Never answers: the client's timeout must fire.
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const quiet = createLogger({ service: 'test', level: 'silent' });

function notifierFor(url: string, options: Partial<WebhookPushNotifierOptions> = {}): WebhookPushNotifier {
  return new WebhookPushNotifier({ url, secret: SECRET, logger: quiet, baseDelayMs: 20, maxDelayMs: 100, ...options });
}

const notice = (messageId = 'message-1'): OfflineNotice => ({
  messageId,
  conversationId: 'dm:a:b',
  seq: 3,
  senderId: 'alice',
  recipientIds: ['bob'],
  kind: 'text',
  sentAt: new Date(),
  text: 'secret plans',
});

describePushNotifierContract('WebhookPushNotifier (real local HTTP server)', async ({ includeText }) => {
  const endpoint = await startEndpoint();
  const notifier = notifierFor(endpoint.url, { includeText });
  return {
    notifier,
    delivered: () => endpoint.received.map((r) => JSON.parse(r.body) as OfflineNoticePayload),
    close: async () => {
      await notifier.close();
      await endpoint.close();
    },
  };
});

describe('WebhookPushNotifier', () => {
  test('every request carries a signature over its timestamp and body that the receiver can verify, and the message id', async () => {
    const endpoint = await startEndpoint();
    const notifier = notifierFor(endpoint.url);
    try {
      await notifier.notify(notice('m-signed'));
      const [request] = endpoint.received;
      assert.ok(request);
      const header = String(request.headers[SIGNATURE_HEADER]);
      assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
      assert.equal(request.headers[DELIVERY_ID_HEADER], 'm-signed');
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(verifyWebhookSignature(SECRET, header, request.body), true);
      // A changed body, another secret, or an old timestamp are all refused.
      assert.equal(verifyWebhookSignature(SECRET, header, request.body.replace('m-signed', 'm-forged')), false);
      assert.equal(verifyWebhookSignature('another-secret-0123456789abcdef', header, request.body), false);
      assert.equal(verifyWebhookSignature(SECRET, header, request.body, Date.now() + 301_000), false);
    } finally {
      await notifier.close();
      await endpoint.close();
    }
  });

  test('server errors and 429 are retried until the endpoint accepts; each retry is signed anew', async () => {
    const endpoint = await startEndpoint((_request, index) => [503, 429, 500][index] ?? 200);
    const outcomes: string[] = [];
    const notifier = notifierFor(endpoint.url, { onOutcome: (outcome) => outcomes.push(outcome) });
    try {
      await notifier.notify(notice('m-retried'));
      assert.equal(endpoint.received.length, 4);
      for (const request of endpoint.received) {
        assert.equal(verifyWebhookSignature(SECRET, String(request.headers[SIGNATURE_HEADER]), request.body), true);
      }
      assert.deepEqual(notifier.counters, { delivered: 1, failed: 0, dropped: 0 });
      assert.deepEqual(outcomes, ['delivered']);
    } finally {
      await notifier.close();
      await endpoint.close();
    }
  });

  test('a refusal such as 400 is final: one attempt, counted as failed, notify still resolves', async () => {
    const endpoint = await startEndpoint(() => 400);
    const notifier = notifierFor(endpoint.url);
    try {
      await notifier.notify(notice());
      assert.equal(endpoint.received.length, 1);
      assert.deepEqual(notifier.counters, { delivered: 0, failed: 1, dropped: 0 });
    } finally {
      await notifier.close();
      await endpoint.close();
    }
  });

  test('an endpoint that never answers times out on every attempt, and the notice is given up after maxAttempts', async () => {
    const endpoint = await startEndpoint(() => 'hang');
    const notifier = notifierFor(endpoint.url, { timeoutMs: 150, maxAttempts: 3 });
    try {
      await notifier.notify(notice());
      assert.equal(endpoint.received.length, 3);
      assert.deepEqual(notifier.counters, { delivered: 0, failed: 1, dropped: 0 });
    } finally {
      await notifier.close();
      await endpoint.close();
    }
  });

  test('an unreachable endpoint does not make notify reject', async () => {
    const endpoint = await startEndpoint();
    await endpoint.close();
    const notifier = notifierFor(endpoint.url, { maxAttempts: 2 });
    await notifier.notify(notice());
    assert.deepEqual(notifier.counters, { delivered: 0, failed: 1, dropped: 0 });
    await notifier.close();
  });

  test('beyond maxInFlight pending notices, new ones are dropped instead of queued', async () => {
    const endpoint = await startEndpoint(() => 'hang');
    const notifier = notifierFor(endpoint.url, { timeoutMs: 5_000, maxInFlight: 2 });
    try {
      const pending = [notifier.notify(notice('a')), notifier.notify(notice('b'))];
      await notifier.notify(notice('c'));
      assert.equal(notifier.counters.dropped, 1);
      // close() aborts the hanging requests and waits for them.
      await notifier.close();
      await Promise.all(pending);
    } finally {
      await endpoint.close();
    }
  });

  test('a webhook URL that is not http(s) or a short secret fails at construction', () => {
    assert.throws(() => notifierFor('ftp://example.com/push'), /http/);
    assert.throws(() => new WebhookPushNotifier({ url: 'http://127.0.0.1/x', secret: 'short', logger: quiet }), /16 bytes/);
  });
});
