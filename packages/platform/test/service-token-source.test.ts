// ServiceTokenSource: one exchange at auth serves every call until 80% of the
// token's life has passed; concurrent callers share one exchange; a failed
// exchange is not cached, so the next call tries again.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, ServiceTokenSource, serviceCredentialsFrom } from '@im-mesh/platform';

describe('service token source', () => {
  const credentials = { clientId: 'core', clientSecret: 'core-secret-0123456789abcdef0123456789' };

  test('caches the token for 80% of its life, then exchanges again; concurrent callers share one exchange', async () => {
    let now = 1_000_000;
    const asked: string[] = [];
    const source = new ServiceTokenSource(
      async (request) => {
        asked.push(`${request.clientId}:${request.clientSecret}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        return { serviceToken: `token-${asked.length}`, expiresInSeconds: 300 };
      },
      credentials,
      () => now,
    );
    assert.deepEqual(await Promise.all([source.token(), source.token(), source.token()]), ['token-1', 'token-1', 'token-1']);
    assert.equal(asked.length, 1, 'three waiting calls, one exchange');
    assert.deepEqual(asked, [`${credentials.clientId}:${credentials.clientSecret}`]);
    now += 239_000;
    assert.equal(await source.token(), 'token-1', 'still inside 80% of 300 s');
    now += 2_000;
    assert.equal(await source.token(), 'token-2', 'renewed past 240 s');
  });

  test('a failed exchange is not kept: the next call asks again', async () => {
    let fail = true;
    const source = new ServiceTokenSource(async () => {
      if (fail) throw new Error('auth unreachable');
      return { serviceToken: 'fresh', expiresInSeconds: 300 };
    }, credentials);
    await assert.rejects(source.token(), /auth unreachable/);
    fail = false;
    assert.equal(await source.token(), 'fresh');
  });

  test('credentials come as a pair or not at all', () => {
    assert.equal(serviceCredentialsFrom({}), undefined);
    assert.deepEqual(serviceCredentialsFrom({ SERVICE_CLIENT_ID: 'a', SERVICE_CLIENT_SECRET: 'b' }), { clientId: 'a', clientSecret: 'b' });
    assert.throws(() => serviceCredentialsFrom({ SERVICE_CLIENT_ID: 'a' }), (error: Error) => error instanceof ConfigError && /SERVICE_CLIENT_SECRET/.test(error.message));
  });
});
