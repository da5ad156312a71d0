// Requests that are not valid protobuf for their method, sent by a raw grpc-js
// client that passes bytes through untouched: the server answers INVALID_ARGUMENT
// with a sentence naming the message type, and keeps serving.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { connectV1, messageV1 } from '@im-mesh/contracts';
import { AppError, createGrpcServer, createLogger, type GrpcServer } from '@im-mesh/platform';
import { Status, type ServerMiddleware } from 'nice-grpc';

const logger = createLogger({ service: 'malformed-test', level: 'silent' });
const bytes = (value: Buffer) => value;

let server: GrpcServer;
let raw: grpc.Client;

const notUsed = async (): Promise<never> => {
  throw AppError.failedPrecondition('Not used in this test.');
};

before(async () => {
  server = createGrpcServer({ logger });
  server.add(messageV1.MessageServiceDefinition, {
    // Every method this test does not call answers "not used".
    ...(Object.fromEntries(Object.keys(messageV1.MessageServiceDefinition.methods).map((name) => [name, notUsed])) as unknown as messageV1.MessageServiceImplementation),
    sendMessage: notUsed,
    syncConversations: notUsed,
    pullMessages: notUsed,
    markRead: async (request) => ({ readSeq: request.seq }),
  });
  // Behind an extra middleware too, as protected services are.
  const passThrough: ServerMiddleware = async function* (call, context) {
    return yield* call.next(call.request, context);
  };
  server.addWith(passThrough, connectV1.ConnectServiceDefinition, {
    // Echoes each ping as a pong.
    async *connect(requests) {
      for await (const request of requests) {
        const kind = request.frame?.kind;
        if (kind?.$case === 'ping') {
          yield { frame: { kind: { $case: 'pong', value: { clientTimeMs: kind.value.clientTimeMs, serverTimeMs: 1 } } } };
        }
      }
    },
    subscribe: async function* () {
      throw AppError.failedPrecondition('Not used in this test.');
    },
    ack: notUsed,
  });
  const port = await server.listen('127.0.0.1', 0);
  raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

after(() => {
  raw.close();
  server.forceShutdown();
});

function unary(path: string, body: Buffer): Promise<{ error: grpc.ServiceError | null; reply: Buffer | undefined }> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(path, bytes, bytes, body, (error, reply) => resolve({ error, reply }));
  });
}

function assertMalformed(error: grpc.ServiceError | null, typeName: string, reason: RegExp): void {
  assert.ok(error, 'the malformed request succeeded');
  assert.equal(error.code, Status.INVALID_ARGUMENT, `status ${error.code}: ${error.details}`);
  assert.match(error.details, new RegExp(`^The request is not a valid ${typeName} message: `));
  assert.match(error.details, reason);
  assert.deepEqual(error.metadata.get('im-error-reason'), ['MESSAGE_MALFORMED']);
}

const markRead = '/im.message.v1.MessageService/MarkRead';
// Field 1 (conversation_id) says 255 bytes follow; none do.
const truncated = Buffer.from([0x0a, 0xff, 0x01]);

describe('malformed protobuf requests', () => {
  test('garbage bytes to a unary method are INVALID_ARGUMENT, and the next valid call is served', async () => {
    const { error } = await unary(markRead, truncated);
    assertMalformed(error, 'MarkReadRequest', /premature EOF/);

    const valid = Buffer.from(messageV1.MarkReadRequest.encode({ conversationId: 'c1', seq: 42 }).finish());
    const answer = await unary(markRead, valid);
    assert.equal(answer.error, null);
    assert.ok(answer.reply);
    assert.equal(messageV1.MarkReadResponse.decode(answer.reply).readSeq, 42);
  });

  test('a uint64 of 2^64-1 (valid protobuf, beyond 2^53) is INVALID_ARGUMENT with a readable reason', async () => {
    // Field 2 (seq), varint 0xFFFF_FFFF_FFFF_FFFF.
    const huge = Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const { error } = await unary(markRead, huge);
    assertMalformed(error, 'MarkReadRequest', /9007199254740991/);
  });

  test('a garbage element on a bidirectional stream ends the stream with INVALID_ARGUMENT after the valid ones are served', async () => {
    const stream = raw.makeBidiStreamRequest('/im.connect.v1.ConnectService/Connect', bytes, bytes);
    const pongs: number[] = [];
    const ended = new Promise<grpc.ServiceError>((resolve, reject) => {
      stream.on('data', (reply: Buffer) => {
        const kind = connectV1.ConnectResponse.decode(reply).frame?.kind;
        if (kind?.$case === 'pong') pongs.push(kind.value.clientTimeMs);
        // The first pong proves the stream works; now break it.
        if (pongs.length === 1) stream.write(Buffer.from([0x0f, 0x01]));
      });
      stream.on('error', resolve);
      stream.on('end', () => reject(new Error('the stream ended without an error')));
    });
    const ping = connectV1.ConnectRequest.encode({ frame: { kind: { $case: 'ping', value: { clientTimeMs: 7 } } } }).finish();
    stream.write(Buffer.from(ping));
    const error = await ended;
    assert.deepEqual(pongs, [7]);
    assertMalformed(error, 'ConnectRequest', /wire type 7/);

    // The server still serves unary calls afterwards.
    const answer = await unary(markRead, Buffer.from(messageV1.MarkReadRequest.encode({ conversationId: 'c1', seq: 3 }).finish()));
    assert.equal(answer.error, null);
  });
});
