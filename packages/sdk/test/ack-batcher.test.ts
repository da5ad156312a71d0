// AckBatcher: acks that fail to send are not lost; they come back as watermarks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { connectV1 } from '@im-mesh/contracts';
import { AckBatcher } from '../src/ack-batcher.js';

test('acks whose send failed are resent as delivered watermarks after a pause', async () => {
  const sent: connectV1.Ack[] = [];
  let fail = true;
  const errors: unknown[] = [];
  const batcher = new AckBatcher(
    5,
    () => ({
      connection: 1,
      send: async (ack) => {
        sent.push(ack);
        if (fail) throw new Error('the Ack RPC failed');
      },
    }),
    (error) => errors.push(error),
  );
  batcher.addPushed('m-1', 'dm:a:b', 1, 1);
  batcher.addPushed('m-2', 'dm:a:b', 2, 1);
  batcher.addDelivered('dm:a:c', 7);
  await batcher.flush();
  assert.equal(errors.length, 1, 'the failure is reported');
  assert.deepEqual(sent[0]?.messageIds, ['m-1', 'm-2']);

  fail = false;
  const deadline = Date.now() + 5_000;
  while (sent.length < 2 && Date.now() < deadline) await sleep(20);
  batcher.stop();
  assert.equal(sent.length, 2, 'one retry');
  assert.deepEqual(
    [...sent[1]!.delivered].sort((x, y) => x.conversationId.localeCompare(y.conversationId)),
    [
      { conversationId: 'dm:a:b', seq: 2 },
      { conversationId: 'dm:a:c', seq: 7 },
    ],
    'what the failed frame covered comes back as watermarks',
  );
});
