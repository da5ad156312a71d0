// The outbox relay: rows leave the outbox only after the bus took the push, a
// failing bus keeps them and retries with per-conversation order intact, a row
// held by another instance holds back only its own conversation, and a NOTIFY
// from elsewhere wakes the relay without waiting for the poll. Sends announce
// themselves to other instances after their commit, coalesced.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { messageV1 } from '@im-mesh/contracts';
import { createLogger, MemoryPushBus, uuidv7, type PushMessage } from '@im-mesh/platform';
import { OutboxListener } from '../src/outbox/outbox-listener.js';
import { CoreHarness, eventually, text, toUser } from './support/core-harness.js';

/** A bus that can be switched to fail every publish, like a broker that is down. */
class SwitchableBus extends MemoryPushBus {
  failing = false;
  override async publish(nodeId: string, message: PushMessage) {
    if (this.failing) throw new Error('broker unavailable');
    return super.publish(nodeId, message);
  }
}

describe('outbox relay', () => {
  let h: CoreHarness;
  let bus: SwitchableBus;

  before(async () => {
    bus = new SwitchableBus();
    h = await CoreHarness.start({ bus, pollMs: 100 });
    await h.online(h.bob, 'bob-phone');
    await h.online(h.carol, 'carol-phone');
  });
  after(async () => {
    await h.close();
  });

  test('an outbox row is deleted once its push was published', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const sent = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hello') });
    await eventually('bob-phone got it', () => h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === sent.messageId));
    await eventually('its outbox row is gone', async () => (await h.count('outbox', 'message_id = $1', [sent.messageId])) === 0);
  });

  test('while the bus fails, rows stay with their error; then they go out in seq order and leave the outbox', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    bus.failing = true;
    const sent: messageV1.SendMessageResponse[] = [];
    for (let i = 1; i <= 3; i += 1) {
      sent.push(await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text(`during outage ${i}`) }));
    }
    await eventually('the first row failed at least once', async () => {
      const [row] = await h.query<{ attempts: number }>('SELECT attempts FROM core.outbox WHERE message_id = $1', [sent[0]!.messageId]);
      return (row?.attempts ?? 0) >= 1;
    });
    const rows = await h.query<{ seq: number; attempts: number; last_error: string | null }>(
      'SELECT seq, attempts, last_error FROM core.outbox WHERE conversation_id = $1 ORDER BY id',
      [sent[0]!.conversationId],
    );
    assert.deepEqual(
      rows.map((r) => r.seq),
      sent.map((s) => s.seq),
    );
    assert.equal(rows[0]!.last_error, 'broker unavailable');
    // Later rows of the conversation wait behind the failing one instead of overtaking it.
    assert.deepEqual(
      rows.slice(1).map((r) => r.attempts),
      [0, 0],
    );
    const ids = new Set(sent.map((s) => s.messageId));
    assert.equal(h.messagesFor(h.bob, 'bob-phone').filter((m) => ids.has(m.messageId)).length, 0);

    bus.failing = false;
    await eventually('all three pushed', () => h.messagesFor(h.bob, 'bob-phone').filter((m) => ids.has(m.messageId)).length === 3, 10_000);
    assert.deepEqual(
      h.messagesFor(h.bob, 'bob-phone').filter((m) => ids.has(m.messageId)).map((m) => m.seq),
      sent.map((s) => s.seq),
    );
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);
    const metrics = await (await fetch(`http://${h.core.httpAddress}/metrics`)).text();
    assert.match(metrics, /core_outbox_retries_total\{service="core"\} [1-9]/);
    assert.match(metrics, /core_push_publishes_total\{kind="message",outcome="failed",service="core"\} [1-9]/);
  });

  test('a row held by another instance holds back its own conversation only', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    bus.failing = true;
    const toBob1 = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('bob 1') });
    const toBob2 = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('bob 2') });
    const toCarol = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('carol 1') });

    // "Another instance" claims bob's first row and sits on it.
    const other = new pg.Client({ connectionString: h.db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM core.outbox WHERE message_id = $1 FOR UPDATE', [toBob1.messageId]);
      await other.query('UPDATE core.outbox SET next_attempt_at = now() WHERE message_id = $1', [toBob1.messageId]);
      await h.query('UPDATE core.outbox SET next_attempt_at = now() WHERE message_id <> $1', [toBob1.messageId]);
      bus.failing = false;

      await eventually('carol got hers', () => h.messagesFor(h.carol, 'carol-phone').some((m) => m.messageId === toCarol.messageId));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(
        h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === toBob2.messageId),
        false,
        "bob's second message must not overtake the first",
      );
    } finally {
      await other.query('COMMIT');
      await other.end();
    }
    await eventually('bob got both', () => h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === toBob2.messageId), 5_000);
    const seqs = h.messagesFor(h.bob, 'bob-phone').filter((m) => [toBob1.messageId, toBob2.messageId].includes(m.messageId));
    assert.deepEqual(
      seqs.map((m) => m.seq),
      [toBob1.seq, toBob2.seq],
    );
  });

  test('a row held by another instance between two claimable rows of its conversation: the row before it goes out, the row after it waits', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    bus.failing = true;
    const sent: Array<Awaited<ReturnType<typeof alice.sendMessage>>> = [];
    for (const n of [1, 2, 3]) sent.push(await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text(`middle ${n}`) }));
    const [first, held, third] = sent as [(typeof sent)[0], (typeof sent)[0], (typeof sent)[0]];
    const bobHas = (messageId: string) => h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === messageId);

    // "Another instance" claims the middle row and sits on it; this relay may claim the other two.
    const other = new pg.Client({ connectionString: h.db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM core.outbox WHERE message_id = $1 FOR UPDATE', [held.messageId]);
      await other.query('UPDATE core.outbox SET next_attempt_at = now() WHERE message_id = $1', [held.messageId]);
      await h.query('UPDATE core.outbox SET next_attempt_at = now() WHERE message_id <> $1', [held.messageId]);
      bus.failing = false;

      await eventually('the row before the held one went out', () => bobHas(first.messageId));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(bobHas(third.messageId), false, 'the row after the held one must not overtake it');
    } finally {
      await other.query('COMMIT');
      await other.end();
    }
    await eventually('bob got all three', () => bobHas(third.messageId) && bobHas(held.messageId), 5_000);
    const pushed = h.messagesFor(h.bob, 'bob-phone').filter((m) => sent.some((s) => s.messageId === m.messageId));
    assert.deepEqual(
      pushed.map((m) => m.seq),
      sent.map((s) => s.seq),
    );
  });

  test('a device on a node that no longer exists counts as offline: the row is dropped, the message stays pullable', async () => {
    await h.presence.register({ userId: h.carol, deviceId: 'carol-old-tablet', nodeId: 'node-that-died', connectionId: 'c1', epoch: 1 }, 60);
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const sent = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('anyone there?') });
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);
    const pulled = await h.messagesAs(h.carol, 'carol-old-tablet').pullMessages({ conversationId: sent.conversationId, afterSeq: sent.seq - 1 });
    assert.equal(pulled.messages[0]?.messageId, sent.messageId);
    const metrics = await (await fetch(`http://${h.core.httpAddress}/metrics`)).text();
    assert.match(metrics, /core_push_publishes_total\{kind="message",outcome="unroutable",service="core"\} [1-9]/);
    assert.match(metrics, /core_outbox_backlog\{service="core"\} 0/);
    assert.match(metrics, /core_message_delivery_latency_seconds_count\{service="core"\} [1-9]/);
  });
  test('a row whose stored content cannot be decoded is rescheduled with its error; other conversations still go out', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const toBob = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('before the bad one') });
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);

    // A message whose content bytes are not protobuf, stored the way a send stores one.
    const badId = uuidv7();
    const writer = new pg.Client({ connectionString: h.db.url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      const [{ last_seq: seq }] = (
        await writer.query('UPDATE core.conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq', [toBob.conversationId])
      ).rows;
      await writer.query(
        `INSERT INTO core.messages (id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content)
         VALUES ($1, $2, $3, $4, 'alice-phone', $5, $6)`,
        [badId, toBob.conversationId, seq, h.alice, randomUUID(), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
      );
      await writer.query('INSERT INTO core.outbox (message_id, conversation_id, seq) VALUES ($1, $2, $3)', [badId, toBob.conversationId, seq]);
      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }
    try {
      const toCarol = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('unaffected') });
      await eventually('carol got hers', () => h.messagesFor(h.carol, 'carol-phone').some((m) => m.messageId === toCarol.messageId));
      await eventually('the bad row failed once', async () => {
        const [row] = await h.query<{ attempts: number }>('SELECT attempts FROM core.outbox WHERE message_id = $1', [badId]);
        return (row?.attempts ?? 0) >= 1;
      });
      const [row] = await h.query<{ last_error: string | null; due_later: boolean }>(
        'SELECT last_error, next_attempt_at > now() AS due_later FROM core.outbox WHERE message_id = $1',
        [badId],
      );
      assert.ok(row!.last_error, 'the decode error is kept on the row');
      assert.equal(row!.due_later, true, 'retried with backoff, not at once');
      assert.equal(h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === badId), false);
      assert.equal(await h.count('outbox', 'message_id = $1', [toCarol.messageId]), 0, "carol's row left the outbox");
      assert.equal(h.messagesFor(h.carol, 'carol-phone').filter((m) => m.messageId === toCarol.messageId).length, 1, 'pushed once, not per retry');
    } finally {
      // Later tests expect an outbox that drains.
      await h.query('DELETE FROM core.messages WHERE id = $1', [badId]);
    }
  });
});

/** A bus whose confirms take a while, like a broker that fsyncs: records publish order and how many overlap. */
class SlowConfirmBus extends MemoryPushBus {
  readonly order: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  override async publish(nodeId: string, message: PushMessage) {
    this.order.push(message.id);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const outcome = await super.publish(nodeId, message);
      await new Promise((resolve) => setTimeout(resolve, 30));
      return outcome;
    } finally {
      this.inFlight -= 1;
    }
  }
}

describe('outbox relay with a broker slow to confirm', () => {
  let h: CoreHarness;
  let bus: SlowConfirmBus;
  before(async () => {
    bus = new SlowConfirmBus();
    h = await CoreHarness.start({ bus, pollMs: 100 });
    await h.online(h.bob, 'bob-phone');
  });
  after(async () => {
    await h.close();
  });

  test("a conversation's claimed rows are published back to back in seq order, not one confirm at a time", async () => {
    const first = await h.messagesAs(h.alice, 'alice-phone').sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('first') });
    await eventually('first pushed', () => h.messagesFor(h.bob, 'bob-phone').length === 1);
    bus.order.length = 0;
    bus.maxInFlight = 0;
    // Ten rows committed together elsewhere: the next poll claims them in one batch.
    const stored: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const content = messageV1.MessageContent.encode(text(`batch ${i}`)).finish();
      stored.push((await h.storeElsewhere(first.conversationId, h.alice, content)).messageId);
    }
    await eventually('all ten pushed', () => h.messagesFor(h.bob, 'bob-phone').length === 11, 5_000);
    assert.deepEqual(bus.order, stored, 'published in seq order, once each');
    assert.ok(bus.maxInFlight > 1, `publishes overlapped (${bus.maxInFlight} at once)`);
    assert.deepEqual(h.messagesFor(h.bob, 'bob-phone').slice(1).map((m) => m.messageId), stored);
  });
});

describe('outbox relay wake-up', () => {
  let h: CoreHarness;
  before(async () => {
    // Polling every 60 s: only a NOTIFY can explain a prompt push.
    h = await CoreHarness.start({ pollMs: 60_000 });
    await h.online(h.bob, 'bob-phone');
  });
  after(async () => {
    await h.close();
  });

  test('a message committed by another core instance (NOTIFY core_outbox) is pushed without waiting for the poll', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const first = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('first') });
    await eventually('first pushed', () => h.messagesFor(h.bob, 'bob-phone').length === 1);

    // Write the way another instance would: message, outbox row, NOTIFY, one transaction.
    const messageId = uuidv7();
    const content = Buffer.from(messageV1.MessageContent.encode(text('from elsewhere')).finish());
    const other = new pg.Client({ connectionString: h.db.url });
    let started = 0;
    await other.connect();
    try {
      await other.query('BEGIN');
      const [{ last_seq: seq }] = (
        await other.query('UPDATE core.conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq', [first.conversationId])
      ).rows;
      await other.query(
        `INSERT INTO core.messages (id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content)
         VALUES ($1, $2, $3, $4, 'alice-laptop', $5, $6)`,
        [messageId, first.conversationId, seq, h.alice, randomUUID(), content],
      );
      await other.query('INSERT INTO core.outbox (message_id, conversation_id, seq) VALUES ($1, $2, $3)', [messageId, first.conversationId, seq]);
      await other.query("SELECT pg_notify('core_outbox', '')");
      started = Date.now();
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    await eventually('pushed after the NOTIFY', () => h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === messageId), 3_000);
    console.log(`pushed ${Date.now() - started} ms after the other instance committed`);
  });

  test('sends committed here wake the other instances after their commit', async () => {
    let heard = 0;
    const otherInstance = new OutboxListener(h.db.url, 'core_outbox', () => (heard += 1), createLogger({ service: 'test', level: 'silent' }));
    await otherInstance.start();
    try {
      const alice = h.messagesAs(h.alice, 'alice-phone');
      const sends = 40;
      await Promise.all(
        Array.from({ length: sends }, (_, i) => alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text(`burst ${i}`) })),
      );
      await eventually('the other instance heard of the commits', () => heard >= 1, 3_000);
    } finally {
      await otherInstance.stop();
    }
  });

  test("an instance's own NOTIFY wakes the others, not itself", async () => {
    const logger = createLogger({ service: 'test', level: 'silent' });
    let selfWakes = 0;
    let otherWakes = 0;
    const self = new OutboxListener(h.db.url, 'core_outbox', () => (selfWakes += 1), logger);
    const other = new OutboxListener(h.db.url, 'core_outbox', () => (otherWakes += 1), logger);
    await Promise.all([self.start(), other.start()]);
    try {
      await self.notifyOthers();
      await eventually('the other listener woke', () => otherWakes >= 1, 3_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(selfWakes, 0);
    } finally {
      await Promise.all([self.stop(), other.stop()]);
    }
  });
});
