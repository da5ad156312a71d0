// ImClient against an in-memory backend (test/support/fake-im-backend.ts), once
// per transport: native gRPC stream, grpc-web (Subscribe + Ack over fetch) and
// WebSocket. The user-visible promises: every message once and in order, live
// or after a cut, a GoAway or a restart; retried sends stored once; acks and
// receipts flow.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { messageV1 } from '@im-mesh/contracts';
import { ClientError, Status } from 'nice-grpc-common';
import { ImClient, MemorySyncStateStore, staticAccessToken, type ConnectionState, type SyncStateStore } from '../src/index.js';
import { nodePlatform } from '../src/node.js';
import { FakeImBackend, tokenOf } from './support/fake-im-backend.js';

const transports = ['grpc', 'grpc-web', 'websocket'] as const;

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function text(body: string) {
  return { body: { $case: 'text' as const, value: { text: body, mentionUserIds: [] } } };
}

for (const kind of transports) {
  describe(`ImClient over ${kind}`, () => {
    const backend = new FakeImBackend();
    let urls: { baseUrl: string; grpcWebUrl: string; webSocketUrl: string };
    const clients: ImClient[] = [];

    before(async () => {
      urls = await backend.start();
    });
    after(async () => {
      await Promise.all(clients.map((client) => client.close(0)));
      await backend.stop();
    });

    /** A client for `user` on device d1 that records what it receives. */
    function open(user: string, options: { syncState?: SyncStateStore; token?: string } = {}) {
      const common = {
        tokens: staticAccessToken(options.token ?? tokenOf(user, 'd1')),
        syncState: options.syncState,
        gapWaitMs: 20,
        ackIntervalMs: 10,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        call: { timeoutMs: 2_000, retryDelayMs: 10 },
      };
      // grpc-web runs as in a browser: default platform, fetch, unary calls over grpc-web too.
      const client =
        kind === 'grpc-web'
          ? new ImClient({ ...common, transport: 'grpc-web', baseUrl: urls.grpcWebUrl })
          : new ImClient({ ...common, transport: kind, ...urls, platform: nodePlatform, rpc: 'grpc' });
      clients.push(client);
      const received: messageV1.Message[] = [];
      const states: ConnectionState[] = [];
      client.onMessage((message) => received.push(message));
      client.onStateChange((state) => states.push(state));
      return { client, received, states, seqs: () => received.map((m) => m.seq) };
    }

    function send(from: string, to: string, count: number): void {
      for (let i = 0; i < count; i += 1) {
        backend.sendMessage({ userId: from, deviceId: 'd1' }, { target: { $case: 'toUserId', value: to }, clientMsgId: `${from}-${Date.now()}-${Math.random()}`, content: text(`hi ${i}`) });
      }
    }

    const upTo = (n: number, from = 1): number[] => Array.from({ length: n - from + 1 }, (_, i) => from + i);

    test('B gets 60 live messages in order and once each although pushes are lost, doubled and overtaken, and acks them all', async () => {
      const bob = open('bob1');
      await bob.client.connect();
      backend.pushFate = (m) => (m.seq % 7 === 0 ? 'drop' : m.seq % 11 === 0 ? 'late' : m.seq % 5 === 0 ? 'twice' : 'send');
      try {
        send('alice1', 'bob1', 60);
        await waitFor('60 messages', () => bob.received.length >= 60);
      } finally {
        backend.pushFate = () => 'send';
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(bob.seqs(), upTo(60));
      assert.equal(new Set(bob.received.map((m) => m.messageId)).size, 60);
      await waitFor('acks for all 60', () => {
        const acks = backend.acks.get('bob1/d1');
        return bob.received.every(
          (m) => acks !== undefined && (acks.ids.has(m.messageId) || (acks.delivered.get(m.conversationId) ?? 0) >= m.seq),
        );
      });
    });

    test("B's cut connection comes back by itself and gets what was sent meanwhile, once and in order", async () => {
      const bob = open('bob2');
      await bob.client.connect();
      send('alice2', 'bob2', 10);
      await waitFor('10 messages', () => bob.received.length === 10);
      backend.kill('bob2');
      send('alice2', 'bob2', 15);
      await waitFor('25 messages', () => bob.received.length >= 25);
      assert.deepEqual(bob.seqs(), upTo(25));
      assert.ok(bob.states.includes('reconnecting'), `states: ${bob.states.join(', ')}`);
      await waitFor('connected again', () => bob.client.state === 'connected');
    });

    test('a new client with the saved watermarks gets exactly the messages missed while offline, before connect() resolves', async () => {
      const store = new MemorySyncStateStore();
      const first = open('bob3', { syncState: store });
      await first.client.connect();
      send('alice3', 'bob3', 5);
      await waitFor('5 messages', () => first.received.length === 5);
      await first.client.close();
      send('alice3', 'bob3', 50);
      send('carol3', 'bob3', 3);
      const second = open('bob3', { syncState: store });
      await second.client.connect();
      const fromAlice = second.received.filter((m) => m.senderId === 'alice3').map((m) => m.seq);
      assert.deepEqual(fromAlice, upTo(55, 6));
      assert.deepEqual(second.received.filter((m) => m.senderId === 'carol3').map((m) => m.seq), upTo(3));
    });

    test('GoAway{reconnect} makes the client come back after the delay and resync', async () => {
      const bob = open('bob4');
      await bob.client.connect();
      backend.goAway('bob4', 100);
      send('alice4', 'bob4', 3);
      await waitFor('3 messages', () => bob.received.length >= 3);
      assert.deepEqual(bob.seqs(), upTo(3));
      assert.ok(bob.states.includes('reconnecting'));
    });

    test('a send whose reply is lost is retried with the same id: one message stored, seen once by both sides', async () => {
      const alice = open('alice5');
      const bob = open('bob5');
      await Promise.all([alice.client.connect(), bob.client.connect()]);
      backend.failSendReplies = 1;
      const calls = backend.sendCalls;
      const reply = await alice.client.sendText({ toUserId: 'bob5' }, 'once');
      assert.equal(backend.sendCalls - calls, 2);
      assert.equal(reply.duplicate, true);
      assert.equal(reply.seq, 1);
      const next = await alice.client.sendText({ toUserId: 'bob5' }, 'twice');
      assert.equal(next.seq, 2);
      await waitFor('2 messages at bob', () => bob.received.length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(bob.seqs(), [1, 2]);
      // The sender's own stream has them too (echoed locally, never pulled as a gap).
      assert.deepEqual(alice.seqs(), [1, 2]);
      await assert.rejects(alice.client.sendText({ toUserId: 'bob5' }, '   '), (error: unknown) => {
        return error instanceof ClientError && error.code === Status.INVALID_ARGUMENT;
      });
    });

    test('read receipts reach the sender', async () => {
      const alice = open('alice6');
      const bob = open('bob6');
      await Promise.all([alice.client.connect(), bob.client.connect()]);
      const receipts: messageV1.Receipt[] = [];
      alice.client.onReceipt((receipt) => receipts.push(receipt));
      const sent = await alice.client.sendText({ toUserId: 'bob6' }, 'read me');
      await waitFor('bob has it', () => bob.received.length === 1);
      assert.equal(await bob.client.markRead(sent.conversationId, sent.seq), 1);
      await waitFor('a read receipt', () => receipts.some((r) => r.kind === 2 && r.seq === 1 && r.userId === 'bob6'));
    });

    test('a quiet connection stays up across several heartbeat intervals', async () => {
      const bob = open('bob7');
      await bob.client.connect();
      await new Promise((resolve) => setTimeout(resolve, 4 * backend.heartbeatIntervalMs));
      assert.equal(bob.client.state, 'connected');
      assert.deepEqual(bob.states, ['connecting', 'syncing', 'connected']);
    });

    test('connect() rejects when the server refuses the token, and does not retry', async () => {
      const mallory = open('mallory', { token: 'forged' });
      await assert.rejects(mallory.client.connect());
      assert.equal(mallory.client.state, 'disconnected');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(mallory.client.state, 'disconnected');
    });
  });
}
