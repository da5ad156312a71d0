// The load workers' lean gRPC client (harness/unary-caller.ts) against a real
// gRPC server (nice-grpc on grpc-js, as the services run): an answer decodes, a
// refusal arrives with its code and its (percent-decoded) message, and a call
// the server never answers fails at the client's deadline instead of hanging
// the scenario.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageV1 } from '@im-mesh/contracts';
import { createServer, ServerError, Status, type CallContext } from 'nice-grpc';
import { UnaryCaller, UnaryCallError } from './harness/unary-caller.js';

const SEND_MESSAGE = '/im.message.v1.MessageService/SendMessage';

test('the lean unary client gets answers, refusals and deadlines as a gRPC client would (no Envoy or edge: a bare grpc-js server)', async () => {
  const server = createServer();
  let seenToken = '';
  // nice-grpc wants every method implemented; only SendMessage is called here.
  const unimplemented = Object.fromEntries(
    Object.keys(messageV1.MessageServiceDefinition.methods).map((key) => [key, () => Promise.reject(new ServerError(Status.UNIMPLEMENTED, key))]),
  );
  server.add(messageV1.MessageServiceDefinition, {
    ...unimplemented,
    async sendMessage(request: messageV1.SendMessageRequest, context: CallContext) {
      seenToken = context.metadata.get('authorization') ?? '';
      if (request.clientMsgId === 'refuse') throw new ServerError(Status.PERMISSION_DENIED, 'Not yours: 100% refused, ünïcode kept');
      if (request.clientMsgId === 'hang') return new Promise<never>(() => undefined);
      return { messageId: 'm-1', conversationId: 'c-1', seq: 7, sentAt: new Date(1_700_000_000_000), duplicate: false };
    },
  } as never);
  const port = await server.listen('127.0.0.1:0');
  const caller = new UnaryCaller(`http://127.0.0.1:${port}`, { timeoutMs: 1_500, localAddress: '127.0.0.2' });
  const request = (clientMsgId: string) =>
    messageV1.SendMessageRequest.fromPartial({ clientMsgId, target: { $case: 'toUserId', value: 'u-2' }, content: { body: { $case: 'text', value: { text: 'hi' } } } });
  try {
    const answer = await caller.call(SEND_MESSAGE, messageV1.SendMessageRequest, messageV1.SendMessageResponse, request('ok'), 'token-1');
    assert.deepEqual({ id: answer.messageId, seq: answer.seq }, { id: 'm-1', seq: 7 });
    assert.equal(seenToken, 'Bearer token-1');

    await assert.rejects(
      caller.call(SEND_MESSAGE, messageV1.SendMessageRequest, messageV1.SendMessageResponse, request('refuse'), 'token-1'),
      (error: unknown) =>
        error instanceof UnaryCallError &&
        error.code === Status.PERMISSION_DENIED &&
        error.details === 'Not yours: 100% refused, ünïcode kept' &&
        error.message === `${SEND_MESSAGE} PERMISSION_DENIED: Not yours: 100% refused, ünïcode kept`,
    );

    await assert.rejects(
      caller.call('/im.message.v1.MessageService/NoSuchMethod', messageV1.SendMessageRequest, messageV1.SendMessageResponse, request('ok'), 'token-1'),
      (error: unknown) => error instanceof UnaryCallError && error.code === Status.UNIMPLEMENTED,
    );

    // The sweep runs once a second: the deadline is met within about a second of passing.
    const started = Date.now();
    await assert.rejects(
      caller.call(SEND_MESSAGE, messageV1.SendMessageRequest, messageV1.SendMessageResponse, request('hang'), 'token-1'),
      (error: unknown) => error instanceof UnaryCallError && error.code === Status.DEADLINE_EXCEEDED && error.path === SEND_MESSAGE,
    );
    assert.ok(Date.now() - started >= 1_400, 'not before the deadline');

    // The connection still serves calls after a cancelled one.
    const again = await caller.call(SEND_MESSAGE, messageV1.SendMessageRequest, messageV1.SendMessageResponse, request('ok'), 'token-2');
    assert.equal(again.conversationId, 'c-1');
  } finally {
    caller.close();
    await server.shutdown();
  }
});
