// Regression test for the default deadline of createServiceClient (grpc-client.ts):
// a stuck upstream must fail with DEADLINE_EXCEEDED instead of hanging.
// Fails before the fix (the call never ends), passes after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { internalV1 } from '@im-mesh/contracts';
import { createGrpcServer, createLogger, createServiceClient, openChannel } from '@im-mesh/platform';
import { ClientError, Status } from 'nice-grpc';

test('service clients put a default deadline on unary calls, so a stuck upstream fails fast', { timeout: 10_000 }, async () => {
  const server = createGrpcServer({ logger: createLogger({ service: 'deadline-test', level: 'silent' }) });
  server.add(internalV1.KeyServiceDefinition, {
    // A stuck upstream: answers only when the caller gives up.
    getJwks: (_request, context) => new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(new Error('caller gave up')))),
  });
  const port = await server.listen('127.0.0.1', 0);
  const { channel, close } = openChannel(`127.0.0.1:${port}`);
  const client = createServiceClient(internalV1.KeyServiceDefinition, channel, { defaultDeadlineMs: 200 });
  const started = Date.now();
  try {
    const outcome = await Promise.race([
      client.getJwks({}).then(() => 'answered', (error: unknown) => error),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3_000)),
    ]);
    assert.ok(outcome instanceof ClientError, `expected DEADLINE_EXCEEDED, got: ${String(outcome)}`);
    assert.equal(outcome.code, Status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  } finally {
    close();
    server.forceShutdown();
  }
});
