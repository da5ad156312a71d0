// SessionStore.sessionStanding under a burst, as in a reconnect storm: hundreds
// of concurrent questions share a few queries, and each still gets its own
// session's answer (live, revoked, banned, unknown, or a session of another user).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { Status } from 'nice-grpc';
import { internalV1 } from '@im-mesh/contracts';
import { createLogger, createServiceClient, openChannel, openDatabase, serviceTokenSourceFor } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { SessionStore } from '../src/storage/session-store.js';
import { failureOf, HARNESS_SERVICE, login, queryDb, register, startAuth, type RunningAuth } from './auth-harness.js';

const PASSWORD = 'standing in a storm';

describe('session standing in bursts', () => {
  let db: TestDatabase;
  let running: RunningAuth;
  let database: DataSource;
  const sessions: Record<'live' | 'revoked' | 'banned', { userId: string; sessionId: string }> = {} as never;

  before(async () => {
    db = await createTestDatabase('auth_standing');
    running = await startAuth(db.url);
    await register(running.auth, 'ivan', PASSWORD);
    await register(running.auth, 'judy', PASSWORD);
    await login(running.auth, 'ivan', PASSWORD, 'laptop');
    await login(running.auth, 'ivan', PASSWORD, 'phone');
    await login(running.auth, 'judy', PASSWORD, 'laptop');
    const rows = await queryDb<{ id: string; user_id: string; username: string; device_id: string }>(
      db.url,
      'SELECT s.id, s.user_id, u.username, s.device_id FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id ORDER BY s.created_at',
    );
    const ivan = rows.filter((row) => row.username === 'ivan');
    const judy = rows.find((row) => row.username === 'judy')!;
    sessions.live = { userId: ivan[0]!.user_id, sessionId: ivan[0]!.id };
    sessions.revoked = { userId: ivan[1]!.user_id, sessionId: ivan[1]!.id };
    sessions.banned = { userId: judy.user_id, sessionId: judy.id };
    await queryDb(db.url, 'UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [sessions.revoked.sessionId]);
    await queryDb(db.url, "UPDATE auth.users SET banned_at = now(), ban_reason = 'spam' WHERE id = $1", [judy.user_id]);
    database = await openDatabase({ url: db.url, schema: 'auth', migrations: [], runMigrations: false, logger: createLogger({ service: 'test', level: 'silent' }) });
  });

  after(async () => {
    await database?.destroy();
    await running?.close();
    await db?.drop();
  });

  test('300 concurrent questions: each gets its own answer, from a handful of queries', async () => {
    let connections = 0;
    const counting = new Proxy(database, {
      get(target, property, receiver) {
        if (property === 'createQueryRunner') {
          return (...args: unknown[]) => {
            connections += 1;
            return target.createQueryRunner(...(args as []));
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const store = new SessionStore(counting);
    const questions = [
      { ask: sessions.live, expect: { kind: 'live' } },
      { ask: { userId: sessions.live.userId.toUpperCase(), sessionId: sessions.live.sessionId.toUpperCase() }, expect: { kind: 'live' } },
      { ask: sessions.revoked, expect: { kind: 'revoked' } },
      { ask: sessions.banned, expect: { kind: 'banned', reason: 'spam' } },
      { ask: { userId: sessions.live.userId, sessionId: randomUUID() }, expect: { kind: 'revoked' } },
      { ask: { userId: sessions.banned.userId, sessionId: sessions.live.sessionId }, expect: { kind: 'revoked' } },
    ];
    const asked = Array.from({ length: 300 }, (_, i) => questions[i % questions.length]!);
    const answers = await Promise.all(asked.map(({ ask }) => store.sessionStanding(ask.userId, ask.sessionId)));
    answers.forEach((answer, i) => assert.deepEqual(answer, asked[i]!.expect, `question ${i}`));
    assert.ok(connections <= 10, `${connections} queries for 300 questions`);
  });

  test('CheckSessions answers many sessions in request order, only for service accounts, at most 1,000 per call', async () => {
    const channel = openChannel(running.service.grpcAddress);
    try {
      const asService = createServiceClient(internalV1.SessionStatusServiceDefinition, channel.channel, {
        serviceToken: serviceTokenSourceFor(channel.channel, HARNESS_SERVICE),
      });
      const { results } = await asService.checkSessions({ sessions: [sessions.banned, sessions.live, sessions.revoked, { userId: randomUUID(), sessionId: randomUUID() }] });
      assert.deepEqual(
        results.map((r) => [r.state, r.reason]),
        [
          [internalV1.SessionState.SESSION_STATE_BANNED, 'spam'],
          [internalV1.SessionState.SESSION_STATE_LIVE, ''],
          [internalV1.SessionState.SESSION_STATE_REVOKED, ''],
          [internalV1.SessionState.SESSION_STATE_REVOKED, ''],
        ],
      );
      const tooMany = await failureOf(asService.checkSessions({ sessions: Array.from({ length: 1_001 }, () => sessions.live) }));
      assert.equal(tooMany.code, Status.INVALID_ARGUMENT);
      const anonymous = createServiceClient(internalV1.SessionStatusServiceDefinition, channel.channel);
      assert.equal((await failureOf(anonymous.checkSessions({ sessions: [sessions.live] }))).code, Status.UNAUTHENTICATED);
    } finally {
      channel.close();
    }
  });
});
