// Unary calls served in-process must answer exactly what the same server answers
// over gRPC. Each case sends the same bytes and headers both ways (a raw HTTP/2
// client against createGrpcServer on loopback, and the server's localCalls) and
// compares status, message, metadata and response bytes.
import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectV1, internalV1 } from '@im-mesh/contracts';
import {
  AccessTokenVerifier,
  AppError,
  createGrpcServer,
  createLogger,
  ErrorCode,
  requireAccessToken,
  type GrpcServer,
} from '@im-mesh/platform';
import { Status, type CallContext } from 'nice-grpc';

const logLines: Array<Record<string, unknown>> = [];
const logger = createLogger({
  service: 'local-calls-test',
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
});

const MAX_MESSAGE_BYTES = 4096;
const GET_JWKS = '/im.internal.v1.KeyService/GetJwks';
const LOOKUP_USERS = '/im.internal.v1.UserDirectoryService/LookupUsers';

/** What the next GetJwks call does; `calls` counts the handler runs, `aborted` the ones whose signal fired. */
let behaviour: (context: CallContext) => Promise<{ jwksJson: string }> = async () => ({ jwksJson: '{}' });
const handlerRuns = { calls: 0, aborted: 0 };

/** What a caller can observe of a unary answer. */
interface Observed {
  status: number;
  message: string;
  /** Header and trailer metadata of the call (x-*, im-*), keyed "header:x" / "trailer:x". */
  metadata: Record<string, string>;
  /** The response's message frames, as bytes. */
  body: string;
}

let server: GrpcServer;
let session: ClientHttp2Session;

before(async () => {
  server = createGrpcServer({ logger, maxMessageBytes: MAX_MESSAGE_BYTES });
  server.add(internalV1.KeyServiceDefinition, {
    getJwks: async (_request, context) => {
      handlerRuns.calls += 1;
      context.signal.addEventListener('abort', () => (handlerRuns.aborted += 1));
      return behaviour(context);
    },
  });
  const verifier = new AccessTokenVerifier({ issuer: 'im-mesh', audience: 'im-mesh', source: async () => ({ keys: [] }) });
  server.addWith(requireAccessToken(verifier), internalV1.UserDirectoryServiceDefinition, {
    lookupUsers: async () => ({ users: [] }),
    findUser: async () => ({ user: undefined }),
  });
  server.add(connectV1.ConnectServiceDefinition, {
    // eslint-disable-next-line require-yield
    async *connect() {
      return;
    },
    // eslint-disable-next-line require-yield
    async *subscribe() {
      return;
    },
    ack: async () => ({ serverTimeMs: 1 }),
  });
  const port = await server.listen('127.0.0.1', 0);
  session = connect(`http://127.0.0.1:${port}`);
  // forceShutdown ends the session with an error code; the calls are over by then.
  session.on('error', () => undefined);
});

after(async () => {
  session.close();
  server.forceShutdown();
});

function frame(message: Uint8Array, flag = 0): Buffer {
  const framed = Buffer.alloc(5 + message.length);
  framed[0] = flag;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

const EMPTY_REQUEST = frame(new Uint8Array());

function observedMetadata(into: Record<string, string>, kind: 'header' | 'trailer', headers: IncomingHttpHeaders | Record<string, unknown>): void {
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith('x-') || key.startsWith('im-')) into[`${kind}:${key}`] = String(value);
  }
}

function decodeGrpcMessage(value: unknown): string {
  return decodeURIComponent(String(value ?? ''));
}

/** The call over gRPC: a raw HTTP/2 request to the server. */
function overGrpc(path: string, headers: Record<string, string>, body: Buffer, cancelAfterMs?: number): Promise<Observed> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const metadata: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let status: IncomingHttpHeaders | undefined;
    stream.on('response', (response) => {
      if (response['grpc-status'] !== undefined) {
        status = response;
        observedMetadata(metadata, 'trailer', response);
      } else observedMetadata(metadata, 'header', response);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (trailers) => {
      status = trailers;
      observedMetadata(metadata, 'trailer', trailers);
    });
    stream.on('error', reject);
    stream.on('close', () => {
      if (cancelAfterMs !== undefined) return resolve({ status: Status.CANCELLED, message: 'cancelled by the caller', metadata, body: '' });
      if (!status) return reject(new Error('the stream closed without a status'));
      resolve({ status: Number(status['grpc-status']), message: decodeGrpcMessage(status['grpc-message']), metadata, body: Buffer.concat(chunks).toString('hex') });
    });
    stream.end(body);
    if (cancelAfterMs !== undefined) setTimeout(() => stream.close(), cancelAfterMs);
  });
}

/** The same call in-process. */
async function locally(path: string, headers: Record<string, string>, body: Buffer, cancelAfterMs?: number): Promise<Observed> {
  const handler = server.localCalls.unary(path);
  assert.ok(handler, `${path} is offered in-process`);
  const cancellation = new AbortController();
  if (cancelAfterMs !== undefined) setTimeout(() => cancellation.abort(), cancelAfterMs);
  const answer = await handler({ headers, body, cancellation });
  if (cancelAfterMs !== undefined) return { status: Status.CANCELLED, message: 'cancelled by the caller', metadata: {}, body: '' };
  const metadata: Record<string, string> = {};
  observedMetadata(metadata, 'header', answer.headers);
  observedMetadata(metadata, 'trailer', answer.trailers);
  return {
    status: Number(answer.trailers['grpc-status']),
    message: decodeGrpcMessage(answer.trailers['grpc-message']),
    metadata,
    body: answer.message?.toString('hex') ?? '',
  };
}

/** Both ways, asserting they agree; returns the in-process answer. */
async function bothWays(path: string, headers: Record<string, string>, body: Buffer): Promise<Observed> {
  const [remote, local] = [await overGrpc(path, headers, body), await locally(path, headers, body)];
  assert.deepEqual(local, remote, 'the in-process answer equals the gRPC one');
  return local;
}

describe('unary calls served in-process answer as the gRPC server does', () => {
  test('a successful call: the same response bytes, header and trailer metadata (text and -bin), and the handler sees the request metadata', async () => {
    const seen: Array<string | undefined> = [];
    behaviour = async (context) => {
      seen.push(`${context.metadata.get('x-trace')}|${Buffer.from(context.metadata.get('x-probe-bin') ?? []).toString('hex')}`);
      context.header.set('x-echo', context.metadata.get('x-trace') ?? 'none');
      context.trailer.set('x-probe-bin', context.metadata.get('x-probe-bin') ?? new Uint8Array());
      return { jwksJson: '{"keys":["k1"]}' };
    };
    const answer = await bothWays(GET_JWKS, { 'x-trace': 'trace-7', 'x-probe-bin': Buffer.from([1, 2, 250]).toString('base64') }, EMPTY_REQUEST);
    assert.equal(answer.status, Status.OK);
    assert.equal(answer.metadata['header:x-echo'], 'trace-7');
    assert.equal(answer.metadata['trailer:x-probe-bin'], Buffer.from([1, 2, 250]).toString('base64'));
    assert.equal(Buffer.from(answer.body, 'hex').subarray(5).toString('utf8').includes('{"keys":["k1"]}'), true);
    assert.deepEqual(seen, ['trace-7|0102fa', 'trace-7|0102fa']);
  });

  test('an AppError keeps its status and sentence, and its reason and retry hint ride in the trailers', async () => {
    behaviour = async () => {
      throw new AppError(ErrorCode.ResourceExhausted, 'Too many key requests — wait a moment.', { reason: 'KEYS_BUSY', retryAfterMs: 1500 });
    };
    const answer = await bothWays(GET_JWKS, {}, EMPTY_REQUEST);
    assert.equal(answer.status, Status.RESOURCE_EXHAUSTED);
    assert.equal(answer.message, 'Too many key requests — wait a moment.');
    assert.equal(answer.metadata['trailer:im-error-reason'], 'KEYS_BUSY');
    assert.equal(answer.metadata['trailer:im-retry-after-ms'], '1500');
  });

  test('an unexpected error is INTERNAL with the generic sentence, and logged with its stack each way', async () => {
    behaviour = async () => {
      throw new TypeError('cannot read properties of undefined (secret detail)');
    };
    const logged = logLines.length;
    const answer = await bothWays(GET_JWKS, {}, EMPTY_REQUEST);
    assert.equal(answer.status, Status.INTERNAL);
    assert.doesNotMatch(answer.message, /secret detail/);
    assert.equal(logLines.slice(logged).filter((line) => line['msg'] === 'unhandled error in gRPC handler').length, 2);
  });

  test('a request that does not decode is INVALID_ARGUMENT, before the access-token check runs', async () => {
    // Field 1 (user_ids) announces 100 bytes and carries 1.
    const answer = await bothWays(LOOKUP_USERS, {}, frame(Uint8Array.from([0x0a, 100, 0x41])));
    assert.equal(answer.status, Status.INVALID_ARGUMENT);
    assert.match(answer.message, /not a valid LookupUsersRequest message/);
  });

  test('the service middleware runs: without a token the protected method is UNAUTHENTICATED', async () => {
    const answer = await bothWays(LOOKUP_USERS, {}, frame(internalV1.LookupUsersRequest.encode({ userIds: ['u1'] }).finish()));
    assert.equal(answer.status, Status.UNAUTHENTICATED);
    const forged = await bothWays(LOOKUP_USERS, { authorization: 'Bearer not-a-jwt' }, frame(internalV1.LookupUsersRequest.encode({ userIds: ['u1'] }).finish()));
    assert.equal(forged.status, Status.UNAUTHENTICATED);
  });

  test('a message above the size limit is RESOURCE_EXHAUSTED and the handler does not run', async () => {
    const runs = handlerRuns.calls;
    const answer = await bothWays(GET_JWKS, {}, frame(new Uint8Array(MAX_MESSAGE_BYTES + 1)));
    assert.equal(answer.status, Status.RESOURCE_EXHAUSTED);
    assert.equal(handlerRuns.calls, runs);
  });

  test('an answer of exactly the size limit goes out, one byte more is RESOURCE_EXHAUSTED', async () => {
    // GetJwksResponse{jwks_json} is a tag, a two-byte length and the string: 3 bytes around it.
    behaviour = async () => ({ jwksJson: 'k'.repeat(MAX_MESSAGE_BYTES - 3) });
    assert.equal((await bothWays(GET_JWKS, {}, EMPTY_REQUEST)).status, Status.OK);
    behaviour = async () => ({ jwksJson: 'k'.repeat(MAX_MESSAGE_BYTES - 2) });
    assert.equal((await bothWays(GET_JWKS, {}, EMPTY_REQUEST)).status, Status.RESOURCE_EXHAUSTED);
  });

  test('grpc-timeout: DEADLINE_EXCEEDED when it passes, and the handler is told through its signal', async () => {
    behaviour = (context) =>
      new Promise((_resolve, reject) => context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    const aborted = handlerRuns.aborted;
    const answer = await bothWays(GET_JWKS, { 'grpc-timeout': '50m' }, EMPTY_REQUEST);
    assert.equal(answer.status, Status.DEADLINE_EXCEEDED);
    assert.equal(handlerRuns.aborted, aborted + 2);
    const invalid = await bothWays(GET_JWKS, { 'grpc-timeout': 'soon' }, EMPTY_REQUEST);
    assert.equal(invalid.status, Status.INTERNAL);
  });

  test('a caller that goes away aborts the handler\'s signal', async () => {
    let release: () => void = () => undefined;
    behaviour = (context) =>
      new Promise((resolve) => {
        release = () => resolve({ jwksJson: '{}' });
        context.signal.addEventListener('abort', () => release(), { once: true });
      });
    for (const call of [overGrpc, locally]) {
      const aborted = handlerRuns.aborted;
      await call(GET_JWKS, {}, EMPTY_REQUEST, 30);
      for (let waited = 0; handlerRuns.aborted === aborted && waited < 2_000; waited += 10) await sleep(10);
      assert.equal(handlerRuns.aborted, aborted + 1, `${call.name}: the handler's signal fired`);
    }
  });

  test('bodies that are not exactly one message: no message or a second one is refused, a trailing partial frame and a stray compressed flag are not', async () => {
    behaviour = async () => ({ jwksJson: '{}' });
    const runs = handlerRuns.calls;
    assert.equal((await bothWays(GET_JWKS, {}, Buffer.alloc(0))).status, Status.UNIMPLEMENTED);
    assert.equal((await bothWays(GET_JWKS, {}, Buffer.from([0, 0, 0]))).status, Status.UNIMPLEMENTED);
    assert.equal((await bothWays(GET_JWKS, {}, Buffer.concat([EMPTY_REQUEST, EMPTY_REQUEST]))).status, Status.UNIMPLEMENTED);
    assert.equal(handlerRuns.calls, runs, 'refused bodies never reach the handler');
    assert.equal((await bothWays(GET_JWKS, {}, Buffer.concat([EMPTY_REQUEST, Buffer.from([0, 0, 0, 0, 9, 1])]))).status, Status.OK);
    assert.equal((await bothWays(GET_JWKS, {}, frame(new Uint8Array(), 1))).status, Status.OK);
  });

  test('a request header that is not valid metadata is left out, and the call goes on', async () => {
    behaviour = async (context) => ({ jwksJson: `${context.metadata.get('x-trace')}|${context.metadata.get('x-a+b') ?? 'absent'}` });
    const answer = await bothWays(GET_JWKS, { 'x-a+b': '1', 'x-trace': 'kept' }, EMPTY_REQUEST);
    assert.equal(answer.status, Status.OK);
    assert.ok(Buffer.from(answer.body, 'hex').toString('utf8').includes('kept|absent'));
  });

  test('only unary methods this server has are offered in-process', () => {
    assert.ok(server.localCalls.unary(GET_JWKS));
    assert.ok(server.localCalls.unary('/im.connect.v1.ConnectService/Ack'));
    assert.equal(server.localCalls.unary('/im.connect.v1.ConnectService/Subscribe'), undefined);
    assert.equal(server.localCalls.unary('/im.connect.v1.ConnectService/Connect'), undefined);
    assert.equal(server.localCalls.unary('/im.internal.v1.KeyService/Nope'), undefined);
  });
});

describe('in-process calls and shutdown', () => {
  test('shutdown waits for a call in flight, then new calls answer UNAVAILABLE, as the closed port would refuse them', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const closing = createGrpcServer({ logger });
    closing.add(internalV1.KeyServiceDefinition, {
      getJwks: async () => {
        await held;
        return { jwksJson: '{"held":true}' };
      },
    });
    await closing.listen('127.0.0.1', 0);
    const handler = closing.localCalls.unary(GET_JWKS)!;
    const inFlight = handler({ headers: {}, body: EMPTY_REQUEST, cancellation: new AbortController() });
    let shutDown = false;
    const shutdown = closing.shutdown().then(() => (shutDown = true));
    await sleep(100);
    assert.equal(shutDown, false, 'shutdown waits for the call in flight');
    const refused = await handler({ headers: {}, body: EMPTY_REQUEST, cancellation: new AbortController() });
    assert.equal(refused.trailers['grpc-status'], String(Status.UNAVAILABLE));
    assert.match(decodeGrpcMessage(refused.trailers['grpc-message']), /shutting down/);
    release();
    assert.equal((await inFlight).trailers['grpc-status'], '0');
    await shutdown;
    assert.equal(shutDown, true);
  });

  test('forceShutdown cancels in-process calls in flight: their handlers see the abort', async () => {
    let sawAbort = false;
    const forced = createGrpcServer({ logger });
    forced.add(internalV1.KeyServiceDefinition, {
      getJwks: (_request, context) =>
        new Promise((_resolve, reject) =>
          context.signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new Error('stopped'));
          }),
        ),
    });
    await forced.listen('127.0.0.1', 0);
    const inFlight = forced.localCalls.unary(GET_JWKS)!({ headers: {}, body: EMPTY_REQUEST, cancellation: new AbortController() });
    await sleep(20);
    forced.forceShutdown();
    assert.notEqual((await inFlight).trailers['grpc-status'], '0');
    assert.equal(sawAbort, true);
  });
});
