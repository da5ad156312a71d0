// Core as an operator sees it: configuration defaults and errors, migrations
// that apply from empty and are idempotent on restart, data that survives it,
// and the ops endpoints.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Status } from 'nice-grpc';
import { AccessTokenVerifier, ConfigError } from '@im-mesh/platform';
import { loadCoreConfig } from '../src/index.js';
import { coreMigrations } from '../src/storage/migrations/index.js';
import { CoreHarness, eventually, text, toUser } from './support/core-harness.js';

describe('core configuration', () => {
  test('defaults follow the team port plan', () => {
    const config = loadCoreConfig({});
    assert.equal(config.CORE_HOST, '127.0.0.1');
    assert.equal(config.CORE_GRPC_PORT, 7002);
    assert.equal(config.CORE_HTTP_PORT, 7082);
    assert.equal(config.AUTH_ADDRESS, '127.0.0.1:7001');
    assert.equal(config.JWT_ISSUER, 'im-mesh');
    assert.equal(config.JWT_AUDIENCE, 'im-mesh');
    assert.equal(config.CORE_OUTBOX_POLL_MS, 1000);
    assert.equal(config.CORE_OUTBOX_MAX_ATTEMPTS, 20);
    assert.equal(config.DATABASE_URL, undefined);
  });

  test('a bad value fails with the name of the key', () => {
    assert.throws(() => loadCoreConfig({ CORE_GRPC_PORT: 'seven' }), (error: unknown) => {
      return error instanceof ConfigError && /CORE_GRPC_PORT/.test(error.message);
    });
    assert.throws(() => loadCoreConfig({ CORE_OUTBOX_POLL_MS: '0' }), /CORE_OUTBOX_POLL_MS/);
    assert.throws(() => loadCoreConfig({ CORE_OUTBOX_MAX_ATTEMPTS: '0' }), /CORE_OUTBOX_MAX_ATTEMPTS/);
  });
});

describe('core restart', () => {
  let h: CoreHarness;
  before(async () => {
    h = await CoreHarness.start();
  });
  after(async () => {
    await h.close();
  });

  test('migrations apply once; a restart on the same database keeps every message and the seq counter', async () => {
    const tables = await h.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'core' ORDER BY table_name",
    );
    assert.deepEqual(
      tables.map((t) => t.table_name),
      [
        'blocks',
        'conversation_members',
        'conversation_pins',
        'conversations',
        'device_cursors',
        'files',
        'friend_requests',
        'friendships',
        'group_join_requests',
        'group_members',
        'groups',
        'message_edits',
        'message_files',
        'message_hides',
        'message_reactions',
        'messages',
        'migrations',
        'outbox',
        'outbox_dead',
        'user_profiles',
      ],
    );
    const applied = await h.count('migrations');
    assert.equal(applied, coreMigrations.length, 'every migration recorded');
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const before = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('before restart') });

    await h.core.stop();
    await h.startCore();
    assert.equal(await h.count('migrations'), applied, 'nothing re-applied');

    const bob = h.messagesAs(h.bob, 'bob-phone');
    const pulled = await bob.pullMessages({ conversationId: before.conversationId, afterSeq: 0 });
    assert.deepEqual(
      pulled.messages.map((m) => m.messageId),
      [before.messageId],
    );
    const afterRestart = await h.messagesAs(h.alice, 'alice-phone').sendMessage({
      target: toUser(h.bob),
      clientMsgId: randomUUID(),
      content: text('after restart'),
    });
    assert.equal(afterRestart.seq, before.seq + 1);
  });

  test('rows left in the outbox by a stopped core are pushed when it starts again', async () => {
    await h.core.stop();
    // What a crash between commit and publish leaves: a row in the outbox.
    const [last] = await h.query<{ id: string; conversation_id: string; seq: number }>(
      'SELECT id, conversation_id, seq FROM core.messages ORDER BY seq DESC LIMIT 1',
    );
    const { id: messageId, conversation_id: conversationId, seq } = last!;
    await h.query('INSERT INTO core.outbox (message_id, conversation_id, seq) VALUES ($1, $2, $3)', [messageId, conversationId, seq]);
    await h.online(h.bob, 'bob-phone');
    await h.startCore();
    await eventually('the leftover row was pushed', () => h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === messageId));
    await eventually('and removed', async () => (await h.count('outbox')) === 0);
  });

  test('/healthz, /readyz and /metrics answer on the HTTP port', async () => {
    await h.messagesAs(h.alice, 'alice-phone').sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('counted') });
    const base = `http://${h.core.httpAddress}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /core_messages_sent_total\{result="stored",service="core"\} [1-9]/);
    assert.match(metrics, /core_outbox_backlog/);
  });
});

describe('core with a token verifier passed in (the all-in-one shares one among edge, core and connect)', () => {
  test('checks access tokens with it, not with a verifier of its own: its keys are trusted, auth\'s alone are not', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const tokenVerifier = new AccessTokenVerifier({
      issuer: 'im-mesh',
      audience: 'im-mesh',
      source: async () => ({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'shared-key', alg: 'RS256', use: 'sig' }] }),
    });
    const h = await CoreHarness.start({ tokenVerifier });
    try {
      const sharedToken = jwt.sign({ sid: randomUUID(), did: 'phone' }, privateKey, {
        algorithm: 'RS256',
        header: { alg: 'RS256', typ: 'at+jwt', kid: 'shared-key' },
        issuer: 'im-mesh',
        audience: 'im-mesh',
        subject: h.alice,
        expiresIn: 300,
      });
      const sent = await h.messagesWithToken(sharedToken).sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('checked by the shared verifier') });
      assert.ok(sent.messageId);
      // Signed by the auth double's key, which only core's own verifier would have fetched.
      await assert.rejects(
        h.messagesAs(h.alice, 'phone').sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('not this one') }),
        (error: { code?: Status }) => error.code === Status.UNAUTHENTICATED,
      );
    } finally {
      await h.close();
    }
  });
});
