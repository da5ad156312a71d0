// The gRPC error boundary seen from a real client: createGrpcServer with a tiny
// KeyService whose handler fails on demand, called over loopback with nice-grpc.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pg from 'pg';
import { after, before, describe, test } from 'node:test';
import { internalV1 } from '@im-mesh/contracts';
import {
  AccessTokenVerifier,
  AppError,
  createGrpcServer,
  createLogger,
  ErrorCode,
  grpcStatusOfErrorCode,
  requireAccessToken,
  type GrpcServer,
} from '@im-mesh/platform';
import { ClientError, createChannel, createClient, ServerError, Status, type Channel } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';

const logLines: Array<Record<string, unknown>> = [];
const destination = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const logger = createLogger({ service: 'boundary-test', level: 'debug', destination });

/** What the next GetJwks call does. */
let behaviour: () => never = () => {
  throw new Error('no behaviour set');
};

let server: GrpcServer;
let address: string;
let channel: Channel;
let keys: ReturnType<typeof createClient<typeof internalV1.KeyServiceDefinition>>;

before(async () => {
  server = createGrpcServer({ logger });
  server.add(internalV1.KeyServiceDefinition, { getJwks: async () => behaviour() });
  // A protected service: the boundary must also map the auth middleware's errors.
  const verifier = new AccessTokenVerifier({ issuer: 'im-mesh', audience: 'im-mesh', source: async () => ({ keys: [] }) });
  server.addWith(requireAccessToken(verifier), internalV1.UserDirectoryServiceDefinition, {
    lookupUsers: async () => ({ users: [] }),
    findUser: async () => ({ user: undefined }),
  });
  const port = await server.listen('127.0.0.1', 0);
  address = `127.0.0.1:${port}`;
  channel = createChannel(address);
  keys = createClient(internalV1.KeyServiceDefinition, channel);
});

after(async () => {
  channel.close();
  server.forceShutdown();
});

async function callFailure(): Promise<ClientError> {
  try {
    await keys.getJwks({});
  } catch (error) {
    assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}

/** The failure a call gets when its handler throws `thrown`, and the log lines written meanwhile. */
async function failWith(thrown: unknown): Promise<{ error: ClientError; logged: typeof logLines }> {
  behaviour = () => {
    throw thrown;
  };
  const before = logLines.length;
  const error = await callFailure();
  return { error, logged: logLines.slice(before) };
}

/** The error a real pg client gives when PostgreSQL is down (nothing listens on the port). */
async function databaseDownError(): Promise<unknown> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
  } catch (error) {
    return error;
  }
  await client.end();
  assert.fail('connected to a closed port');
}

/** The error a real pg pool gives when its only connection stays busy past its wait (overload, not an outage). */
async function databaseBusyError(): Promise<unknown> {
  const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres', max: 1, connectionTimeoutMillis: 200 });
  const held = await pool.connect();
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    return error;
  } finally {
    held.release();
    await pool.end();
  }
  assert.fail('a second query got the only connection while it was held');
}

/** The error a real pg client gives when PostgreSQL's host accepts the connection but never answers (its connect timeout). */
async function databaseSilentError(): Promise<unknown> {
  const held: Array<import('node:net').Socket> = [];
  const silent = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const { port } = silent.address() as AddressInfo;
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 200 });
  try {
    await client.connect();
  } catch (error) {
    return error;
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
  assert.fail('connected to a server that never answers');
}

describe('gRPC error boundary', () => {
  test('a call that found every database connection busy is UNAVAILABLE (retryable) and says so, not that the database is down', async () => {
    const { error, logged } = await failWith(await databaseBusyError());
    assert.equal(error.code, Status.UNAVAILABLE);
    assert.match(error.details, /too busy .*\(all its database connections are in use\)/);
    assert.doesNotMatch(error.details, /cannot reach/);
    assert.ok(logged.some((line) => line.level === 40 && String(line.msg).startsWith('database pool busy')));
  });

  test('a database host that stops answering (the connect times out) is UNAVAILABLE too, not INTERNAL', async () => {
    const { error } = await failWith(await databaseSilentError());
    assert.equal(error.code, Status.UNAVAILABLE, `${Status[error.code]}: ${error.details}`);
    assert.match(error.details, /cannot reach its database/);
  });

  test('a database outage is UNAVAILABLE (retryable) with a readable message, logged as a warning', async () => {
    const { error, logged } = await failWith(await databaseDownError());
    assert.equal(error.code, Status.UNAVAILABLE);
    assert.match(error.details, /cannot reach its database/);
    assert.ok(logged.some((line) => line.level === 40 && line.msg === 'database unavailable'));
    assert.ok(!logged.some((line) => (line.level as number) >= 50), 'not logged as an error');
  });

  test('every AppError code reaches the caller as its gRPC status with the readable message', async () => {
    for (const code of Object.values(ErrorCode)) {
      const message = `Readable sentence for ${code}.`;
      behaviour = () => {
        throw new AppError(code, message);
      };
      const error = await callFailure();
      assert.equal(error.code, grpcStatusOfErrorCode(code), `code ${code}`);
      assert.equal(error.details, message);
    }
    assert.equal(grpcStatusOfErrorCode(ErrorCode.NotFound), Status.NOT_FOUND);
    assert.equal(grpcStatusOfErrorCode(ErrorCode.Unauthenticated), Status.UNAUTHENTICATED);
  });

  test('an unknown error becomes INTERNAL with a generic message; the details stay in the log', async () => {
    logLines.length = 0;
    behaviour = () => {
      throw new Error('connect ECONNREFUSED postgres://im:hunter2@10.0.0.7/im');
    };
    const error = await callFailure();
    assert.equal(error.code, Status.INTERNAL);
    assert.doesNotMatch(error.details, /hunter2|ECONNREFUSED|postgres/);
    assert.match(error.details, /Internal error/);
    const logged = logLines.find((line) => line.msg === 'unhandled error in gRPC handler');
    assert.ok(logged, 'the unknown error was not logged');
    assert.equal(logged.method, '/im.internal.v1.KeyService/GetJwks');
    assert.match(JSON.stringify(logged.err), /ECONNREFUSED/);
  });

  test('an AppError cause is logged, never sent', async () => {
    logLines.length = 0;
    behaviour = () => {
      throw AppError.unavailable('The message store is unavailable. Try again shortly.', new Error('pool exhausted at db-7'));
    };
    const error = await callFailure();
    assert.equal(error.code, Status.UNAVAILABLE);
    assert.equal(error.details, 'The message store is unavailable. Try again shortly.');
    assert.ok(logLines.some((line) => JSON.stringify(line).includes('pool exhausted at db-7')));
  });

  test('a ServerError passes through unchanged', async () => {
    behaviour = () => {
      throw new ServerError(Status.FAILED_PRECONDITION, 'Finish the previous upload first.');
    };
    const error = await callFailure();
    assert.equal(error.code, Status.FAILED_PRECONDITION);
    assert.equal(error.details, 'Finish the previous upload first.');
  });

  test('a protected service without a token answers UNAUTHENTICATED through the boundary', async () => {
    const directory = createClient(internalV1.UserDirectoryServiceDefinition, channel);
    await assert.rejects(directory.lookupUsers({ userIds: ['u1'] }), (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.code, Status.UNAUTHENTICATED);
      assert.match(error.details, /access token/);
      return true;
    });
  });

  test('health reports each added service as serving', async () => {
    const health = createClient(HealthDefinition, channel);
    const answer = await health.check({ service: 'im.internal.v1.KeyService' });
    assert.equal(answer.status, 1 /* SERVING */);
  });
});
