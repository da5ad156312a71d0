// TypingForwarder keeps typing cheap: per connection and conversation, at most
// one "typing" relay per interval, repeats dropped, "stopped" relayed once;
// a refusal from core reaches the client as an error frame.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientError, Status } from 'nice-grpc';
import type { internalV1 } from '@im-mesh/contracts';
import { createLogger, type AppError } from '@im-mesh/platform';
import type { ClientSession } from '../src/sessions/client-session.js';
import { TypingForwarder } from '../src/sessions/typing-forwarder.js';

function fakeSession(): { session: ClientSession; errors: AppError[] } {
  const errors: AppError[] = [];
  const session = {
    identity: { userId: 'u-1', deviceId: 'd-1', sessionId: 's', connectionId: 'c', epoch: 1 },
    sendError: (error: AppError) => errors.push(error),
  } as unknown as ClientSession;
  return { session, errors };
}

const logger = createLogger({ service: 'typing-test', level: 'silent' });

describe('TypingForwarder', () => {
  test('a client typing on every keystroke costs one relay per second per conversation; stopping is relayed once', async () => {
    const relayed: internalV1.RelayTypingRequest[] = [];
    let now = 0;
    const forwarder = new TypingForwarder({ relayTyping: async (r) => (relayed.push(r), { devices: 1 }) }, logger, 1000, () => now);
    const { session } = fakeSession();
    for (let keystroke = 0; keystroke < 10; keystroke += 1) {
      forwarder.forward(session, { conversationId: 'c1', typing: true });
      now += 50;
    }
    forwarder.forward(session, { conversationId: 'c2', typing: true });
    now = 1200;
    forwarder.forward(session, { conversationId: 'c1', typing: true });
    forwarder.forward(session, { conversationId: 'c1', typing: false });
    forwarder.forward(session, { conversationId: 'c1', typing: false });
    assert.deepEqual(
      relayed.map((r) => [r.conversationId, r.typing]),
      [
        ['c1', true],
        ['c2', true],
        ['c1', true],
        ['c1', false],
      ],
    );
    assert.deepEqual(relayed[0], { userId: 'u-1', deviceId: 'd-1', conversationId: 'c1', typing: true });
  });

  test("core's refusal (not a member) reaches the client as an error frame, and a retry is not mistaken for a repeat", async () => {
    let calls = 0;
    const forwarder = new TypingForwarder(
      {
        relayTyping: async () => {
          calls += 1;
          throw new ClientError('/im.internal.v1.TypingService/RelayTyping', Status.NOT_FOUND, 'Conversation not found, or you are not a member of it.');
        },
      },
      logger,
    );
    const { session, errors } = fakeSession();
    forwarder.forward(session, { conversationId: 'not-mine', typing: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /Conversation not found/);
    forwarder.forward(session, { conversationId: 'not-mine', typing: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 2);
  });
});
