// openRedis and the readiness check: a reachable Redis is ready, an unreachable
// one fails fast with a message an operator can act on, and nothing keeps
// reconnecting in the background afterwards (the test process must exit).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { closeRedis, openRedis, redisReadiness } from '@im-mesh/platform';
import { openTestRedis } from './redis-test-support.js';

test('a connected client reports ready, and not ready once closed', async () => {
  const client = await openTestRedis();
  const readiness = redisReadiness(client);
  assert.equal(readiness.name, 'redis');
  await readiness.check();
  await closeRedis(client);
  await assert.rejects(readiness.check());
  // Closing twice is harmless.
  await closeRedis(client);
});

test('an unreachable Redis fails to open quickly, naming the address but not the password', async () => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const started = Date.now();
  await assert.rejects(openRedis({ url: `redis://:s3cret@127.0.0.1:${port}`, connectTimeoutMs: 1_000 }), (error: Error) => {
    assert.match(error.message, new RegExp(`Redis is not reachable at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
    assert.match(error.message, /ECONNREFUSED/);
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
  assert.ok(Date.now() - started < 3_000, `opening took ${Date.now() - started} ms`);
});
