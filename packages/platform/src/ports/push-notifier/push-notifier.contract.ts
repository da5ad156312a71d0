// The contract of push-notifier.ts as a test suite every adapter runs:
// `describePushNotifierContract('Webhook', (options) => openWebhookUnderTest(options))`.
// The factory gives the notifier and a way to read what reached the outside
// world (the log lines, the requests a real HTTP server received).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { uniqueName } from '../contract-support.js';
import type { OfflineNotice, OfflineNoticePayload, PushNotifier } from './push-notifier.js';

export interface NotifierUnderTest {
  notifier: PushNotifier;
  /** Payloads that reached the outside world so far, in arrival order. */
  delivered(): OfflineNoticePayload[];
  /** Closes the notifier (if still open) and whatever the test opened for it. */
  close(): Promise<void>;
}

export function describePushNotifierContract(name: string, open: (options: { includeText: boolean }) => Promise<NotifierUnderTest>): void {
  const notice = (overrides: Partial<OfflineNotice> = {}): OfflineNotice => ({
    messageId: uniqueName('message'),
    conversationId: uniqueName('dm'),
    seq: 7,
    senderId: uniqueName('alice'),
    recipientIds: [uniqueName('bob')],
    kind: 'text',
    sentAt: new Date('2026-11-27T12:00:00.000Z'),
    text: 'meet me at the station at 9',
    ...overrides,
  });

  const run = (includeText: boolean, body: (under: NotifierUnderTest) => Promise<void>) => async () => {
    const under = await open({ includeText });
    try {
      await body(under);
    } finally {
      await under.close();
    }
  };

  describe(`PushNotifier contract: ${name}`, () => {
    test('a notice reaches the outside with ids, sender, conversation, kind and recipients, and no text by default', run(false, async (under) => {
      const sent = notice();
      await under.notifier.notify(sent);
      const delivered = under.delivered();
      assert.equal(delivered.length, 1);
      assert.deepEqual(delivered[0], {
        type: 'message.offline',
        messageId: sent.messageId,
        conversationId: sent.conversationId,
        seq: 7,
        senderId: sent.senderId,
        recipientIds: sent.recipientIds,
        kind: 'text',
        sentAt: '2026-11-27T12:00:00.000Z',
      });
      assert.equal(JSON.stringify(delivered).includes('station'), false, 'message text must not leave without includeText');
    }));

    test('the text is included only when configured', run(true, async (under) => {
      await under.notifier.notify(notice());
      assert.equal(under.delivered()[0]?.text, 'meet me at the station at 9');
    }));

    test('notices arrive once each, in the order given when sent one after another', run(false, async (under) => {
      const first = notice({ seq: 1 });
      const second = notice({ seq: 2, kind: 'image', text: undefined });
      await under.notifier.notify(first);
      await under.notifier.notify(second);
      assert.deepEqual(under.delivered().map((p) => [p.messageId, p.kind]), [[first.messageId, 'text'], [second.messageId, 'image']]);
    }));

    test('after close, notify resolves and nothing more goes out', run(false, async (under) => {
      await under.notifier.close();
      await under.notifier.notify(notice());
      assert.equal(under.delivered().length, 0);
    }));
  });
}
