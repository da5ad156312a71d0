// createLogger: JSON lines tagged with the service, and secrets never written.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger } from '@im-mesh/platform';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString('utf8');
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination, raw: () => raw };
}

describe('createLogger', () => {
  test('writes JSON lines with the service name, level and time', () => {
    const out = capture();
    const logger = createLogger({ service: 'core', destination: out.destination });
    logger.info({ conversationId: 'c1' }, 'message stored');
    const [line] = out.lines;
    assert.equal(line?.service, 'core');
    assert.equal(line?.msg, 'message stored');
    assert.equal(line?.conversationId, 'c1');
    assert.equal(line?.level, 30);
    assert.ok(!Number.isNaN(Date.parse(String(line?.time))));
  });

  test('passwords, tokens, authorization headers and keys are redacted, at the top and one level down', () => {
    const out = capture();
    const logger = createLogger({ service: 'auth', destination: out.destination });
    logger.info(
      {
        password: 'hunter2',
        token: 'eyJ.top.level',
        authorization: 'Bearer eyJ.header',
        refreshToken: 'rt-secret',
        secret: 'blob-signing-secret',
        login: { password: 'hunter3', ciphertext: 'rsa-oaep-bytes', smsCode: '123456' },
        req: { headers: { authorization: 'Bearer eyJ.req', 'sec-websocket-protocol': 'im.v1, eyJ.ws' } },
        headers: { authorization: 'Bearer eyJ.headers' },
        session: { accessToken: 'eyJ.access', privateKey: '-----BEGIN PRIVATE KEY-----' },
        userId: 'user-alice',
      },
      'login attempt',
    );
    const text = out.raw();
    for (const secret of ['hunter2', 'hunter3', 'eyJ', 'rt-secret', 'blob-signing-secret', 'rsa-oaep-bytes', '123456', 'PRIVATE KEY']) {
      assert.ok(!text.includes(secret), `${secret} reached the log: ${text}`);
    }
    const [line] = out.lines as Array<Record<string, any>>;
    assert.equal(line?.password, '[redacted]');
    assert.equal(line?.login.password, '[redacted]');
    assert.equal(line?.req.headers.authorization, '[redacted]');
    assert.equal(line?.userId, 'user-alice', 'ordinary fields stay readable');
  });

  test('child loggers redact too', () => {
    const out = capture();
    const child = createLogger({ service: 'edge', destination: out.destination }).child({ component: 'admission' });
    child.warn({ authorization: 'Bearer eyJ.child' }, 'rejected');
    assert.ok(!out.raw().includes('eyJ.child'));
    assert.equal(out.lines[0]?.component, 'admission');
  });

  test('the level option filters lower levels', () => {
    const out = capture();
    const logger = createLogger({ service: 'connect', level: 'warn', destination: out.destination });
    logger.info('hidden');
    logger.warn('shown');
    assert.deepEqual(out.lines.map((l) => l.msg), ['shown']);
  });
});
