// LogPushNotifier against the push-notifier contract: what "reaches the outside"
// is the log line.
import { PassThrough } from 'node:stream';
import { createLogger, LogPushNotifier, type OfflineNoticePayload } from '@im-mesh/platform';
import { describePushNotifierContract } from '../src/ports/push-notifier/push-notifier.contract.js';

describePushNotifierContract('LogPushNotifier', async ({ includeText }) => {
  const lines: OfflineNoticePayload[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) lines.push((JSON.parse(line) as { notice: OfflineNoticePayload }).notice);
    }
  });
  const notifier = new LogPushNotifier({ logger: createLogger({ service: 'test', level: 'info', destination: sink }), includeText });
  return {
    notifier,
    // pino writes synchronously to a PassThrough, so lines are there once notify resolved.
    delivered: () => [...lines],
    close: () => notifier.close(),
  };
});
