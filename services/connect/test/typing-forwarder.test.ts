// TypingForwarder keeps typing cheap: per device and conversation, at most one
// "typing" relay per interval, repeats dropped, "stopped" relayed once; core's
// refusal comes back as an AppError the caller shows to the client.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientError, Status } from 'nice-grpc';
import type { internalV1 } from '@im-mesh/contracts';
import { AppError, createLogger, ErrorCode } from '@im-mesh/platform';
import { TypingForwarder } from '../src/sessions/typing-forwarder.js';

const logger = createLogger({ service: 'typing-test', level: 'silent' });
const phone = { userId: 'u-1', deviceId: 'd-1' };

describe('TypingForwarder', () => {
  test('a client typing on every keystroke costs one relay per second per conversation; stopping is relayed once', async () => {
    const relayed: internalV1.RelayTypingRequest[] = [];
    let now = 0;
    const forwarder = new TypingForwarder({ relayTyping: async (r) => (relayed.push(r), { devices: 1 }) }, logger, 1000, () => now);
    for (let keystroke = 0; keystroke < 10; keystroke += 1) {
      await forwarder.forward(phone, { conversationId: 'c1', typing: true });
      now += 50;
    }
    await forwarder.forward(phone, { conversationId: 'c2', typing: true });
    await forwarder.forward({ userId: 'u-1', deviceId: 'd-2' }, { conversationId: 'c1', typing: true });
    now = 1200;
    await forwarder.forward(phone, { conversationId: 'c1', typing: true });
    await forwarder.forward(phone, { conversationId: 'c1', typing: false });
    await forwarder.forward(phone, { conversationId: 'c1', typing: false });
    assert.deepEqual(
      relayed.map((r) => [r.deviceId, r.conversationId, r.typing]),
      [
        ['d-1', 'c1', true],
        ['d-1', 'c2', true],
        ['d-2', 'c1', true],
        ['d-1', 'c1', true],
        ['d-1', 'c1', false],
      ],
    );
    assert.deepEqual(relayed[0], { userId: 'u-1', deviceId: 'd-1', conversationId: 'c1', typing: true });
  });

  test("core's refusal (not a member) rejects with NOT_FOUND, and a retry is not mistaken for a repeat; other failures are swallowed", async () => {
    let calls = 0;
    let failure: Error = new ClientError('/im.internal.v1.TypingService/RelayTyping', Status.NOT_FOUND, 'Conversation not found, or you are not a member of it.');
    const forwarder = new TypingForwarder(
      {
        relayTyping: async () => {
          calls += 1;
          throw failure;
        },
      },
      logger,
    );
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await assert.rejects(forwarder.forward(phone, { conversationId: 'not-mine', typing: true }), (error: unknown) => {
        assert.ok(error instanceof AppError);
        assert.equal(error.code, ErrorCode.NotFound);
        assert.match(error.message, /Conversation not found/);
        return true;
      });
    }
    assert.equal(calls, 2);
    failure = new ClientError('/im.internal.v1.TypingService/RelayTyping', Status.UNAVAILABLE, 'core is restarting');
    await forwarder.forward(phone, { conversationId: 'mine', typing: true });
    assert.equal(calls, 3);
  });
  test('"stopped typing" is relayed only after "typing" was, even when core answers the first one slowly', async () => {
    const started: boolean[] = [];
    const finished: boolean[] = [];
    const forwarder = new TypingForwarder(
      {
        relayTyping: async (request) => {
          started.push(request.typing);
          // The first relay is slow; without ordering, the second would overtake it.
          await new Promise((resolve) => setTimeout(resolve, request.typing ? 50 : 0));
          finished.push(request.typing);
          return { devices: 1 };
        },
      },
      logger,
    );
    await Promise.all([forwarder.forward(phone, { conversationId: 'c', typing: true }), forwarder.forward(phone, { conversationId: 'c', typing: false })]);
    assert.deepEqual(started, [true, false]);
    assert.deepEqual(finished, [true, false], 'core saw "typing" through before "stopped"');
  });
});
