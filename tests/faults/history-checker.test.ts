// The history checker on hand-made histories: it must catch each kind of broken
// promise (lost, duplicated, reordered, unexpected) and count recoveries, or the
// fault scenarios' green would mean nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { messageV1 } from '@im-mesh/contracts';
import type { ImClient } from '@im-mesh/sdk';
import { ClientError, Status } from 'nice-grpc-common';
import { History, type TrackedDevice } from './support/history.js';
import { assertDeliveryPromiseKept, checkHistory } from './support/history-checker.js';

const CONVERSATION = 'c-1';

/** A device whose sends are answered by `answer` (a response, or an error to throw). */
function fakeDevice(name: string, userId: string, answer: () => messageV1.SendMessageResponse | Error): TrackedDevice {
  const client = {
    onMessage: () => () => undefined,
    sendText: async () => {
      const result = answer();
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { name, userId, client: client as unknown as ImClient };
}

function response(seq: number): messageV1.SendMessageResponse {
  return { messageId: `m-${seq}`, conversationId: CONVERSATION, seq, sentAt: new Date(1_000 + seq), duplicate: false };
}

function shown(history: History, device: string, senderId: string, clientMsgId: string, seq: number, messageId = `m-${seq}`): void {
  history.recordShown(device, messageV1.Message.fromPartial({ messageId, conversationId: CONVERSATION, seq, senderId, senderDeviceId: 'a-phone', clientMsgId }));
}

/** Alice (one device) writes to Bob (two devices); returns the history and a sender whose seqs count up. */
function setup(): { history: History; alice: TrackedDevice } {
  const history = new History('checker');
  let seq = 0;
  const alice = fakeDevice('a-phone', 'alice', () => response(++seq));
  history.devices.set('a-phone', { name: 'a-phone', userId: 'alice' });
  history.devices.set('b-phone', { name: 'b-phone', userId: 'bob' });
  history.devices.set('b-laptop', { name: 'b-laptop', userId: 'bob' });
  return { history, alice };
}

describe('history checker', () => {
  test('a history where every acked send shows once, in order, on every recipient device is clean', async () => {
    const { history, alice } = setup();
    const first = await history.send(alice, 'bob', { clientMsgId: 'k1' });
    const second = await history.send(alice, 'bob', { clientMsgId: 'k2' });
    for (const device of ['b-phone', 'b-laptop']) {
      shown(history, device, 'alice', first.clientMsgId, 1);
      shown(history, device, 'alice', second.clientMsgId, 2);
    }
    const report = checkHistory(history);
    assert.deepEqual([report.lost, report.duplicated, report.reordered, report.unexpected, report.acked], [0, 0, 0, 0, 2]);
    assert.ok(report.latencyP50Ms !== undefined && report.latencyP99Ms !== undefined);
    assertDeliveryPromiseKept(report);
  });

  test('an acked send missing on one recipient device is lost', async () => {
    const { history, alice } = setup();
    await history.send(alice, 'bob', { clientMsgId: 'k1' });
    shown(history, 'b-phone', 'alice', 'k1', 1);
    const report = checkHistory(history);
    assert.equal(report.lost, 1);
    assert.equal(report.missingDeliveries, 1);
    assert.throws(() => assertDeliveryPromiseKept(report), /lost/);
  });

  test('a message shown twice on a device, or one send under two ids, is duplicated', async () => {
    const { history, alice } = setup();
    await history.send(alice, 'bob', { clientMsgId: 'k1' });
    for (const device of ['b-phone', 'b-laptop']) shown(history, device, 'alice', 'k1', 1);
    shown(history, 'b-phone', 'alice', 'k1', 1);
    assert.equal(checkHistory(history).duplicated, 1);
    shown(history, 'b-laptop', 'alice', 'k1', 2, 'm-other');
    const report = checkHistory(history);
    assert.equal(report.duplicated, 2, 'the second id of the same send counts too');
    assert.equal(report.unexpected, 1, 'and the copy under another id was never acked');
  });

  test('a lower seq after a higher one in a conversation is reordered', async () => {
    const { history, alice } = setup();
    await history.send(alice, 'bob', { clientMsgId: 'k1' });
    await history.send(alice, 'bob', { clientMsgId: 'k2' });
    shown(history, 'b-phone', 'alice', 'k2', 2);
    shown(history, 'b-phone', 'alice', 'k1', 1);
    for (const [key, seq] of [['k1', 1], ['k2', 2]] as const) shown(history, 'b-laptop', 'alice', key, seq);
    const report = checkHistory(history);
    assert.equal(report.reordered, 1);
    assert.equal(report.lost, 0);
  });

  test('a message nobody sent, or one whose every send was refused, is unexpected', async () => {
    const history = new History('checker');
    history.devices.set('b-phone', { name: 'b-phone', userId: 'bob' });
    const refusing = fakeDevice('a-phone', 'alice', () => new ClientError('/SendMessage', Status.INVALID_ARGUMENT, 'empty text'));
    await history.send(refusing, 'bob', { clientMsgId: 'refused' });
    shown(history, 'b-phone', 'alice', 'refused', 1);
    shown(history, 'b-phone', 'mallory', 'never-sent', 2);
    const report = checkHistory(history);
    assert.equal(report.refused, 1);
    assert.equal(report.unexpected, 2);
  });

  test('a send of unknown outcome that landed counts as recovered, not as a problem', async () => {
    const { history } = setup();
    const timingOut = fakeDevice('a-phone', 'alice', () => new ClientError('/SendMessage', Status.DEADLINE_EXCEEDED, 'no answer'));
    await history.send(timingOut, 'bob', { clientMsgId: 'k1' });
    shown(history, 'b-phone', 'alice', 'k1', 1);
    const report = checkHistory(history);
    assert.deepEqual([report.unknown, report.recovered, report.lost, report.unexpected], [1, 1, 0, 0]);
  });

  test('time to recover runs from the heal to the last show of a message sent before it', async () => {
    const { history, alice } = setup();
    await history.send(alice, 'bob', { clientMsgId: 'k1' });
    history.mark('healed');
    const healedAt = history.marks.get('healed')!;
    await new Promise((resolve) => setTimeout(resolve, 30));
    for (const device of ['b-phone', 'b-laptop']) shown(history, device, 'alice', 'k1', 1);
    const report = checkHistory(history);
    assert.ok(report.recoverMs !== undefined && report.recoverMs >= 25, `recoverMs ${report.recoverMs} counts the wait after ${healedAt}`);
  });
});
