// Failures the edge must turn into a status instead of a hang or a crash: a
// surprise while admitting or starting a call (INTERNAL, and the edge keeps
// serving), an upstream lookup that fails, an upstream host that accepts TCP but
// never speaks HTTP/2, and an upstream that stops answering in the middle of a
// quiet Subscribe stream (UNAVAILABLE).
import assert from 'node:assert/strict';
import type { Server as Http1Server } from 'node:http';
import type { Http2Server, OutgoingHttpHeaders } from 'node:http2';
import { createServer as createTcpServer, connect as connectTcp, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { authV1, connectV1 } from '@im-mesh/contracts';
import { createChannel, createClient, Metadata, Status } from 'nice-grpc';
import type { Admission } from '../src/admission/admission.js';
import { createEdgeServers } from '../src/edge-server.js';
import { CorsPolicy } from '../src/http/cors.js';
import { EdgeMetrics } from '../src/metrics/edge-metrics.js';
import { routeOf } from '../src/routing/method-routes.js';
import { UpstreamRouter } from '../src/routing/upstream-router.js';
import { UpstreamSessions } from '../src/routing/upstream-sessions.js';
import { staticUpstreamRegistry, type GrpcUpstreamName } from '../src/routing/upstreams.js';
import { createTestTokenIssuer } from './support/token-issuer-double.js';
import { capturingLogger, startTestEdge } from './support/test-edge.js';
import { startUpstreamDoubles, type UpstreamDoubles } from './support/upstream-doubles.js';

const issuer = createTestTokenIssuer();

async function expectStatus(call: Promise<unknown>, status: Status, message?: RegExp): Promise<void> {
  await assert.rejects(call, (error: { code?: Status; details?: string }) => {
    assert.equal(error.code, status, `expected ${Status[status]}, got ${Status[error.code ?? -1]}: ${error.details}`);
    if (message) assert.match(error.details ?? '', message);
    return true;
  });
}

async function listen(server: Http1Server | Http2Server | Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A grpc-web GetLoginKey over fetch; resolves with the HTTP status and the body as text. */
async function grpcWebGetLoginKey(address: string): Promise<{ status: number; body: string }> {
  const message = authV1.GetLoginKeyRequest.encode({ deviceId: 'browser' }).finish();
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  const response = await fetch(`http://${address}/im.auth.v1.AuthService/GetLoginKey`, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto' },
    body: frame,
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()).toString('latin1') };
}

describe('edge calls that fail inside the edge', () => {
  let upstreams: UpstreamDoubles;
  const logLines: string[] = [];
  const failures = { admission: false, lookup: false };
  let http1: Http1Server;
  let http2: Http2Server;
  let router: UpstreamRouter;
  let grpcAddress: string;
  let webAddress: string;

  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
    const logger = capturingLogger('edge', logLines);
    // Admission that admits every routed call, or throws when told to.
    const admission = {
      async admitCall(request: { path: string }) {
        if (failures.admission) throw new Error('the rate limiter store returned garbage');
        return { admitted: true, route: routeOf(request.path)!, caller: undefined };
      },
      async limitAddress() {
        return undefined;
      },
    } as unknown as Admission;
    const metrics = new EdgeMetrics();
    router = new UpstreamRouter({
      registry: staticUpstreamRegistry(upstreams.addresses),
      sessions: new UpstreamSessions(logger, { connectTimeoutMs: 5_000, pingIntervalMs: 30_000, pingTimeoutMs: 10_000 }),
      metrics,
      logger,
      circuit: { failures: 5, openMs: 10_000 },
      connectTimeoutMs: 5_000,
    });
    await router.start();
    const servers = createEdgeServers(
      {
        admission,
        // Routing that fails on demand, as a registry lookup that throws would.
        router: {
          openStream: async (name: GrpcUpstreamName, headers: OutgoingHttpHeaders) => {
            if (failures.lookup) throw new Error(`no healthy ${name} instance is registered`);
            return router.openStream(name, headers);
          },
          openTunnel: () => router.openTunnel(),
        },
        metrics,
        logger,
        maxRequestBytes: 1 << 20,
        isAccepting: () => true,
      },
      new CorsPolicy(['*']),
      { registries: [], readiness: [], isAccepting: () => true },
      { idleTimeoutMs: 60_000 },
    );
    http1 = servers.http1;
    http2 = servers.http2;
    grpcAddress = await listen(http2);
    webAddress = await listen(http1);
  });
  after(async () => {
    router.close();
    http1.closeAllConnections();
    await new Promise((resolve) => http1.close(resolve));
    await new Promise((resolve) => http2.close(resolve));
    await upstreams.stop();
  });

  test('a native gRPC call whose admission throws gets INTERNAL, the failure is logged, and the next call goes through', async () => {
    const channel = createChannel(grpcAddress);
    try {
      const auth = createClient(authV1.AuthServiceDefinition, channel);
      failures.admission = true;
      await expectStatus(auth.getLoginKey({ deviceId: 'd' }, { signal: AbortSignal.timeout(3_000) }), Status.INTERNAL, /could not handle this call/);
      assert.match(logLines.join(''), /edge could not handle a gRPC call.*rate limiter store returned garbage|rate limiter store returned garbage.*edge could not handle a gRPC call/);
      failures.admission = false;
      assert.equal((await auth.getLoginKey({ deviceId: 'd' })).nonce, 'nonce-for-d');
    } finally {
      failures.admission = false;
      channel.close();
    }
  });

  test('a grpc-web call whose admission throws gets a grpc-web INTERNAL status, not an HTTP 500', async () => {
    failures.admission = true;
    try {
      const answer = await grpcWebGetLoginKey(webAddress);
      assert.equal(answer.status, 200);
      assert.match(answer.body, new RegExp(`grpc-status: ${Status.INTERNAL}\\r\\n`));
    } finally {
      failures.admission = false;
    }
    assert.match((await grpcWebGetLoginKey(webAddress)).body, /grpc-status: 0\r\n/);
  });

  test('a call whose upstream cannot be looked up is UNAVAILABLE on both transports', async () => {
    const channel = createChannel(grpcAddress);
    failures.lookup = true;
    try {
      const auth = createClient(authV1.AuthServiceDefinition, channel);
      await expectStatus(auth.getLoginKey({ deviceId: 'd' }, { signal: AbortSignal.timeout(3_000) }), Status.UNAVAILABLE, /auth service is unreachable/);
      assert.match((await grpcWebGetLoginKey(webAddress)).body, new RegExp(`grpc-status: ${Status.UNAVAILABLE}\\r\\n`));
    } finally {
      failures.lookup = false;
      channel.close();
    }
  });
});

/** A TCP proxy to `target` whose traffic can be stopped both ways, like a host that dies without closing anything. */
async function freezableProxy(target: string): Promise<{ address: string; freeze(): void; close(): Promise<void> }> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const server = createTcpServer((client) => {
    const upstream = connectTcp({ host, port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => frozen || upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => frozen || client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const address = await listen(server);
  return {
    address,
    freeze: () => (frozen = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('edge upstream sessions that stop answering', () => {
  let upstreams: UpstreamDoubles;
  before(async () => {
    upstreams = await startUpstreamDoubles(capturingLogger('doubles', [], 'silent'), issuer);
  });
  after(async () => {
    await upstreams.stop();
  });

  test('an upstream that accepts TCP but never completes HTTP/2 makes calls UNAVAILABLE after EDGE_UPSTREAM_CONNECT_TIMEOUT_MS, not at the deadline', async () => {
    const held = new Set<Socket>();
    const silent = createTcpServer((socket) => held.add(socket.on('error', () => {})));
    const edge = await startTestEdge({ ...upstreams.addresses, auth: await listen(silent) }, { EDGE_UPSTREAM_CONNECT_TIMEOUT_MS: '300' });
    const channel = createChannel(edge.address);
    try {
      const started = Date.now();
      await expectStatus(
        createClient(authV1.AuthServiceDefinition, channel).getLoginKey({ deviceId: 'd' }, { signal: AbortSignal.timeout(8_000) }),
        Status.UNAVAILABLE,
        /auth service is unreachable/,
      );
      assert.ok(Date.now() - started < 4_000, `answered after ${Date.now() - started} ms`);
    } finally {
      channel.close();
      await edge.stop();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('a quiet Subscribe stream whose upstream host stops answering ends UNAVAILABLE once a ping goes unanswered', async () => {
    const proxy = await freezableProxy(upstreams.addresses.connect);
    const edge = await startTestEdge(
      { ...upstreams.addresses, connect: proxy.address },
      { EDGE_UPSTREAM_PING_INTERVAL_MS: '200', EDGE_UPSTREAM_PING_TIMEOUT_MS: '200' },
    );
    const channel = createChannel(edge.address);
    const abort = new AbortController();
    const guard = setTimeout(() => abort.abort(), 5_000);
    try {
      const stream = createClient(connectV1.ConnectServiceDefinition, channel).subscribe(
        {},
        { signal: abort.signal, metadata: Metadata({ authorization: `Bearer ${issuer.accessToken()}` }) },
      );
      const iterator = stream[Symbol.asyncIterator]();
      for (let n = 0; n < 3; n += 1) assert.equal((await iterator.next()).done, false);
      // The connect double now keeps the stream open and silent; its host "dies".
      proxy.freeze();
      await expectStatus(
        (async () => {
          for (;;) if ((await iterator.next()).done) return;
        })(),
        Status.UNAVAILABLE,
        /connect service closed the call/,
      );
      assert.equal(abort.signal.aborted, false, 'the stream ended before the 5 s guard');
    } finally {
      clearTimeout(guard);
      channel.close();
      await edge.stop();
      await proxy.close();
    }
  });
});
