// Fuzzing the WebSocket frame handler with fast-check: random bytes, and valid
// ClientFrames with bytes flipped, cut or appended, each on its own authenticated
// socket. Whatever arrives, the node answers in bounded time (a frame back, or a
// close with a policy code) and keeps serving: after every run a fresh socket's
// ping gets its pong. A crash or an unhandled rejection would fail the run, since
// the node runs in this process.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectV1 } from '@im-mesh/contracts';
import fc from 'fast-check';
import { authenticatedSocket, startHarness, type Harness } from './support/connect-harness.js';

/** Close codes a server may use for a bad client: normal, going away, unsupported/invalid data, policy, too big, try later. */
const ALLOWED_CLOSE_CODES = new Set([1000, 1001, 1003, 1007, 1008, 1009, 1013]);
const ANSWER_WITHIN_MS = 3_000;

const validFrames: connectV1.ClientFrame[] = [
  { kind: { $case: 'ping', value: { clientTimeMs: 12345 } } },
  { kind: { $case: 'ack', value: { messageIds: ['0190f3c2-7d1e-7cc3-9a4b-8f1e2d3c4b5a'], delivered: [{ conversationId: 'd:a:b', seq: 3 }] } } },
  { kind: { $case: 'auth', value: { accessToken: 'x.y.z' } } },
];

const mutatedFrame = fc
  .tuple(fc.constantFrom(...validFrames), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(64), fc.uint8Array({ maxLength: 16 }))
  .map(([frame, flips, cut, tail]) => {
    const bytes = Buffer.from(connectV1.ClientFrame.encode(frame).finish());
    for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
    return Buffer.concat([bytes.subarray(0, Math.max(0, bytes.length - (cut % (bytes.length + 1)))), tail]);
  });

describe('fuzzing connect’s WebSocket frame handler', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ CONNECT_MAX_FRAME_BYTES: '4096', CONNECT_FRAMES_PER_SECOND: '1000', CONNECT_FRAME_BURST: '1000' });
  });
  after(() => harness.stop());

  test('random and mutated frames get an answer or a policy close in bounded time, and the node keeps serving', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)), mutatedFrame), async (bytes) => {
        run += 1;
        const { socket } = await authenticatedSocket(harness, 'user-fuzz', `device-${run}`);
        try {
          socket.ws.send(bytes);
          // A ping after the fuzzed frame: its pong proves the frame was dealt with and the socket is still in order.
          socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 777 } } });
          const outcome = await Promise.race([
            (async () => {
              for (;;) {
                const frame = await socket.frames.next();
                if (frame.kind?.$case === 'pong' && frame.kind.value.clientTimeMs === 777) return 'answered' as const;
              }
            })().catch(() => 'closed' as const),
            socket.closed.then(() => 'closed' as const),
            new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), ANSWER_WITHIN_MS).unref()),
          ]);
          assert.notEqual(outcome, 'hung', `no answer within ${ANSWER_WITHIN_MS} ms to ${bytes.toString('hex')}`);
          if (outcome === 'closed') {
            const { code } = await socket.closed;
            assert.ok(ALLOWED_CLOSE_CODES.has(code), `close code ${code} after ${bytes.toString('hex')}`);
          }
        } finally {
          socket.close();
        }
      }),
      { numRuns: 150 },
    );
    const { socket } = await authenticatedSocket(harness, 'user-after', 'device-after');
    socket.send({ kind: { $case: 'ping', value: { clientTimeMs: 1 } } });
    assert.equal((await socket.frames.expect('pong')).clientTimeMs, 1);
    socket.close();
  });
});
