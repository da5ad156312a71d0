// Fuzzing the edge's public port with fast-check: random bytes straight onto the
// TCP socket (the protocol sniffer and both HTTP parsers see them), and random
// grpc-web bodies, base64 and binary, to a real method. Whatever arrives, the edge
// answers (with a gRPC status) or closes in bounded time, and keeps serving a
// normal call afterwards.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { authV1 } from '@im-mesh/contracts';
import fc from 'fast-check';
import { createChannel, createClient } from 'nice-grpc';
import { decodeBase64Chunks } from '../src/grpc-web/grpc-web-frames.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge, type TestEdge } from './support/test-edge.js';
import { startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const SETTLE_WITHIN_MS = 5_000;

/** Writes `bytes` on a fresh TCP connection and resolves once the edge answered or closed it. */
function sendRaw(address: string, bytes: Uint8Array): Promise<'answered' | 'closed' | 'hung'> {
  const [host = '127.0.0.1', port = '0'] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('hung');
    }, SETTLE_WITHIN_MS);
    const settle = (outcome: 'answered' | 'closed') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      // Half-close: a parser waiting for more now knows there is no more.
      socket.end();
    });
    socket.on('data', () => settle('answered'));
    socket.on('close', () => settle('closed'));
    socket.on('error', () => settle('closed'));
  });
}

describe('fuzzing the edge’s public port', () => {
  let upstreams: UpstreamDoubles;
  let edge: TestEdge;
  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), createTestTokenIssuer());
    edge = await startTestEdge(upstreams.addresses, { EDGE_RATE_LIMIT_PER_IP: '100000', EDGE_RATE_LIMIT_PER_IP_BURST: '100000' });
  });
  after(async () => {
    await edge.stop();
    await upstreams.stop();
  });

  const stillServes = async () => {
    const channel = createChannel(edge.address);
    try {
      const key = await createClient(authV1.AuthServiceDefinition, channel).getLoginKey({ deviceId: 'after-fuzz' });
      assert.equal(key.kid, 'login-key-1');
    } finally {
      channel.close();
    }
  };

  test('random bytes on the TCP port are answered or closed in bounded time', async () => {
    const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const http1Start = Buffer.from('POST /im.auth.v1.AuthService/GetLoginKey HTTP/1.1\r\n');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((tail) => Buffer.concat([http2Preface, tail])),
          fc.uint8Array({ maxLength: 300 }).map((tail) => Buffer.concat([http1Start, tail])),
        ),
        async (bytes) => {
          const outcome = await sendRaw(edge.address, bytes);
          assert.notEqual(outcome, 'hung', `no answer within ${SETTLE_WITHIN_MS} ms to ${Buffer.from(bytes).toString('hex')}`);
        },
      ),
      { numRuns: 120 },
    );
    await stillServes();
  });

  test('random grpc-web bodies, base64 or binary, get a grpc-web answer with a status', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
          // A well-formed frame header around random payload bytes.
          fc.uint8Array({ maxLength: 100 }).map((payload) => {
            const header = Buffer.alloc(5);
            header.writeUInt32BE(payload.length, 1);
            return Buffer.concat([header, payload]);
          }),
        ),
        async (asText, body) => {
          const response = await fetch(`${edge.url}/im.auth.v1.AuthService/GetLoginKey`, {
            method: 'POST',
            headers: { 'content-type': asText ? 'application/grpc-web-text' : 'application/grpc-web+proto' },
            body: asText ? body.toString('base64') : body,
            signal: AbortSignal.timeout(SETTLE_WITHIN_MS),
          });
          const answer = Buffer.from(await response.arrayBuffer());
          assert.ok(response.status === 200 || response.status >= 400, `HTTP ${response.status}`);
          if (response.status !== 200) return;
          // A grpc-web answer carries its status in a header or in the trailer frame of the body.
          const bytes = asText ? decodeBase64Chunks(answer.toString('latin1')) : answer;
          assert.ok(bytes, 'a grpc-web-text answer is valid base64');
          const status = response.headers.get('grpc-status') ?? /grpc-status: ?(\d+)/.exec(bytes.toString('latin1'))?.[1];
          assert.ok(status !== undefined && status !== null, `no grpc-status in the answer to ${body.toString('hex')}`);
        },
      ),
      { numRuns: 120 },
    );
    await stillServes();
  });
});
