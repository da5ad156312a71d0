// encodeMessage reuses one writer: its bytes must always equal a fresh writer's,
// also right after a message that failed halfway and after a very large one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectV1, encodeMessage, messageV1 } from '@im-mesh/contracts';

const ping = (clientTimeMs: number): connectV1.ClientFrame => ({ kind: { $case: 'ping', value: { clientTimeMs } } });
const text = (body: string): messageV1.MessageContent => ({ body: { $case: 'text', value: { text: body, mentionUserIds: ['u1'] } } });
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

test('the bytes equal a fresh writer\'s, message after message of different types and sizes', () => {
  for (const [type, message] of [
    [connectV1.ClientFrame, ping(7)],
    [messageV1.MessageContent, text('hello')],
    [connectV1.ClientFrame, ping(1_700_000_000_000)],
    [messageV1.MessageContent, text('x'.repeat(300))],
    [connectV1.ClientFrame, ping(0)],
  ] as const) {
    assert.equal(hex(encodeMessage(type as never, message as never)), hex((type as typeof connectV1.ClientFrame).encode(message as never).finish()));
  }
});

test('a message that fails halfway leaves nothing behind for the next one', () => {
  encodeMessage(messageV1.MessageContent, text('before'));
  assert.throws(() => encodeMessage(connectV1.ClientFrame, ping(1.5)), /not an integer/);
  assert.equal(hex(encodeMessage(connectV1.ClientFrame, ping(9))), hex(connectV1.ClientFrame.encode(ping(9)).finish()));
});

test('a large message is whole, and the small one after it too', () => {
  const large = text('y'.repeat(200_000));
  assert.equal(hex(encodeMessage(messageV1.MessageContent, large)), hex(messageV1.MessageContent.encode(large).finish()));
  assert.equal(hex(encodeMessage(connectV1.ClientFrame, ping(3))), hex(connectV1.ClientFrame.encode(ping(3)).finish()));
});

test('bytes already returned stay as they were while the writer encodes the next message', () => {
  const first = encodeMessage(messageV1.MessageContent, text('first'));
  const copy = hex(first);
  encodeMessage(messageV1.MessageContent, text('second, longer than the first'));
  assert.equal(hex(first), copy);
});

test('a prefix is written ahead of the message, and the next message starts clean', () => {
  const framed = encodeMessage(connectV1.ClientFrame, ping(5), new Uint8Array([9, 9, 9]));
  assert.equal(hex(framed), `090909${hex(connectV1.ClientFrame.encode(ping(5)).finish())}`);
  assert.equal(hex(encodeMessage(connectV1.ClientFrame, ping(6))), hex(connectV1.ClientFrame.encode(ping(6)).finish()));
});
