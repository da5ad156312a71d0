// Connect's session check against auth: questions arriving together go in one
// CheckSessions call, an auth from before CheckSessions is still asked one
// session at a time, and a short answer fails the check instead of logging the
// user out.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createServer, ServerError, Status, type Server } from 'nice-grpc';
import { internalV1 } from '@im-mesh/contracts';
import { openChannel, type AccessTokenClaims } from '@im-mesh/platform';
import { authSessionCheck } from '../src/sessions/session-check.js';

const claims = (sessionId: string): AccessTokenClaims => ({ userId: 'user-1', sessionId, deviceId: 'phone', expiresAt: 0 });
const LIVE = { state: internalV1.SessionState.SESSION_STATE_LIVE, reason: '' };
const REVOKED = { state: internalV1.SessionState.SESSION_STATE_REVOKED, reason: '' };

async function authWith(implementation: Partial<internalV1.SessionStatusServiceImplementation>): Promise<{ server: Server; address: string }> {
  const server = createServer();
  // A method it lacks answers UNIMPLEMENTED, as grpc-js does for a method a server does not know.
  const unimplemented = async (): Promise<never> => {
    throw new ServerError(Status.UNIMPLEMENTED, 'unknown method');
  };
  server.add(internalV1.SessionStatusServiceDefinition, {
    checkSession: implementation.checkSession ?? unimplemented,
    checkSessions: implementation.checkSessions ?? unimplemented,
  });
  const port = await server.listen('127.0.0.1:0');
  return { server, address: `127.0.0.1:${port}` };
}

describe('session check (connect → auth)', () => {
  const closers: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  test('questions asked together share CheckSessions calls and each gets its own answer', async () => {
    const calls: number[] = [];
    const { server, address } = await authWith({
      async checkSessions(request) {
        calls.push(request.sessions.length);
        return { results: request.sessions.map((s) => (s.sessionId.startsWith('ended') ? REVOKED : LIVE)) };
      },
    });
    const channel = openChannel(address);
    closers.push(() => server.shutdown(), () => channel.close());
    const check = authSessionCheck(channel);
    const verdicts = await Promise.all(Array.from({ length: 50 }, (_, i) => check(claims(i % 5 === 0 ? `ended-${i}` : `live-${i}`))));
    verdicts.forEach((verdict, i) => assert.deepEqual(verdict, { kind: i % 5 === 0 ? 'revoked' : 'live' }));
    assert.ok(calls.length < 50, `${calls.length} calls for 50 questions`);
  });

  test('an auth without CheckSessions (older, mid-upgrade) is asked one session at a time', async () => {
    const { server, address } = await authWith({
      async checkSession(request) {
        return request.sessionId.startsWith('ended') ? REVOKED : LIVE;
      },
    });
    const channel = openChannel(address);
    closers.push(() => server.shutdown(), () => channel.close());
    const check = authSessionCheck(channel);
    assert.deepEqual(await Promise.all([check(claims('live-1')), check(claims('ended-1'))]), [{ kind: 'live' }, { kind: 'revoked' }]);
  });

  test('an answer with fewer results than questions fails the check (retry later) instead of refusing the session', async () => {
    const { server, address } = await authWith({
      async checkSessions() {
        return { results: [] };
      },
    });
    const channel = openChannel(address);
    closers.push(() => server.shutdown(), () => channel.close());
    await assert.rejects(authSessionCheck(channel)(claims('live-1')), /answered 0 of 1/);
  });
});
