// The user story of the foundation, through the edge, once per client kind:
// two users register and log in, B is online and gets A's 200 messages live, in
// order, once each; A sees them delivered; B goes offline, A sends 50 more, B
// reconnects and gets exactly those 50 in order; a retried send is stored once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemorySyncStateStore } from '@im-mesh/sdk';
import { messageV1 } from '@im-mesh/contracts';
import { newUser, openClient, startTestMesh, waitFor, type TestMesh, type Transport } from './support/mesh-harness.js';

const TRANSPORTS: Transport[] = ['grpc', 'grpc-web', 'websocket'];

describe('the first message end to end', () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startTestMesh('story');
  });
  after(async () => {
    await mesh?.stop();
  });

  for (const transport of TRANSPORTS) {
    test(`over ${transport}: live in order once each, delivered receipts, offline catch-up, deduplicated retry`, async () => {
      const alice = await newUser(mesh.url, 'alice');
      const bob = await newUser(mesh.url, 'bob');
      const bobState = new MemorySyncStateStore();
      const aliceInbox = await openClient(mesh.url, alice, 'grpc');
      let bobInbox = await openClient(mesh.url, bob, transport, bobState);

      // 200 messages while B is online.
      const started = Date.now();
      let conversationId = '';
      for (let i = 0; i < 200; i++) {
        const sent = await aliceInbox.client.sendText({ toUserId: bob.userId }, `live ${i}`);
        assert.equal(sent.seq, i + 1, 'seqs are given in send order without gaps');
        conversationId = sent.conversationId;
      }
      await waitFor(
        () => bobInbox.received.length >= 200,
        () => `bob got ${bobInbox.received.length} of 200 live messages`,
      );
      await sleep(200); // A duplicate would arrive within this window.
      assert.equal(bobInbox.received.length, 200, 'each message arrives once');
      assert.deepEqual(
        bobInbox.received.map((m) => m.text),
        Array.from({ length: 200 }, (_, i) => `live ${i}`),
        'in send order',
      );
      assert.deepEqual(
        bobInbox.received.map((m) => m.seq),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.equal(new Set(bobInbox.received.map((m) => m.id)).size, 200, 'distinct message ids');
      console.log(`  ${transport}: 200 messages sent and received in ${Date.now() - started} ms`);

      // B's client acked them; A sees them marked delivered.
      await waitFor(
        () =>
          aliceInbox.receipts.some(
            (r) => r.userId === bob.userId && r.kind === messageV1.ReceiptKind.RECEIPT_KIND_DELIVERED && r.seq === 200,
          ),
        () => `alice's receipts: ${JSON.stringify(aliceInbox.receipts.slice(-3))}`,
      );
      const [state] = (await aliceInbox.client.syncConversations()).filter((c) => c.conversationId === conversationId);
      assert.equal(state?.peerDeliveredSeq, 200, 'sync reports the delivered watermark too');

      // B goes offline; A sends 50 more; B comes back and gets exactly those.
      await bobInbox.client.close();
      for (let i = 200; i < 250; i++) await aliceInbox.client.sendText({ toUserId: bob.userId }, `offline ${i}`);
      bobInbox = await openClient(mesh.url, bob, transport, bobState);
      await waitFor(
        () => bobInbox.received.length >= 50,
        () => `bob got ${bobInbox.received.length} of 50 missed messages`,
      );
      await sleep(200);
      assert.deepEqual(
        bobInbox.received.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => 201 + i),
        'exactly the missing ones, in order',
      );
      assert.equal(bobInbox.received[0]?.text, 'offline 200');

      // A retried send returns the original id and seq; B sees it once.
      const clientMsgId = `retry-${transport}-${Date.now()}`;
      const first = await aliceInbox.client.sendText({ toUserId: bob.userId }, 'only once', { clientMsgId });
      const retry = await aliceInbox.client.sendText({ toUserId: bob.userId }, 'only once', { clientMsgId });
      assert.equal(retry.messageId, first.messageId);
      assert.equal(retry.seq, first.seq);
      assert.equal(retry.duplicate, true);
      await waitFor(
        () => bobInbox.received.some((m) => m.id === first.messageId),
        () => 'bob never got the retried message',
      );
      await sleep(300);
      assert.equal(bobInbox.received.filter((m) => m.text === 'only once').length, 1, 'B sees the retried message once');

      const stored = await mesh.db.query('SELECT count(*)::int AS n FROM core.messages WHERE conversation_id = $1', [conversationId]);
      assert.equal(stored.rows[0].n, 251, '250 messages plus one retried message, nothing more');

      await Promise.all([bobInbox.client.close(), aliceInbox.client.close()]);
    });
  }

  test('no password, token or ciphertext appears in the logs', async () => {
    const carol = await newUser(mesh.url, 'carol');
    const token = await carol.auth.getAccessToken();
    const logs = mesh.logs();
    assert.ok(logs.length > 0, 'the services logged something');
    assert.ok(!logs.includes(carol.password), 'password not logged');
    assert.ok(!logs.includes(token), 'access token not logged');
    assert.ok(!logs.includes(token.split('.')[2]!), 'token signature not logged');
  });
});
