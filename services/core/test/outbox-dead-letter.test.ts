// Dead-lettering and the outbox metrics: a push that keeps failing is given up
// after CORE_OUTBOX_MAX_ATTEMPTS (3 here) with a metric and one log line an
// operator can act on, without holding back its conversation and without
// touching the stored message; the requeue command puts dead rows back and they
// are then pushed; the gauges and counters show what the relay did.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { internalV1, messageV1 } from '@im-mesh/contracts';
import { MemoryPushBus, type PushBus, type PushHandler, type PushMessage } from '@im-mesh/platform';
import { CoreHarness, eventually, sample, text, toUser } from './support/core-harness.js';

const MAX_ATTEMPTS = 3;
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REQUEUE_COMMAND = fileURLToPath(new URL('../src/outbox/requeue-dead.ts', import.meta.url));

/** Refuses pushes of messages whose text starts with "poison", or every push while `rejectAll`. */
class RefusingBus implements PushBus {
  rejectAll = false;
  /** Publish calls per push id (the message id). */
  readonly attempts = new Map<string, number>();
  private readonly inner = new MemoryPushBus();
  readonly capabilities = this.inner.capabilities;
  consume(nodeId: string, handler: PushHandler) {
    return this.inner.consume(nodeId, handler);
  }
  async publish(nodeId: string, message: PushMessage) {
    this.attempts.set(message.id, (this.attempts.get(message.id) ?? 0) + 1);
    if (this.rejectAll) throw new Error('broker refused the push');
    const kind = internalV1.PushEnvelope.decode(message.body).frame?.kind;
    const body = kind?.$case === 'message' ? kind.value.content?.body : undefined;
    if (body?.$case === 'text' && body.value.text.startsWith('poison')) throw new Error('poison message rejected');
    return this.inner.publish(nodeId, message);
  }
  backlog(nodeId: string) {
    return this.inner.backlog(nodeId);
  }

  close() {
    return this.inner.close();
  }
}

/** Runs requeue-dead.ts as an operator would; resolves with its exit code and output. */
function runRequeue(databaseUrl: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', REQUEUE_COMMAND, ...args],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('outbox dead-lettering', () => {
  let h: CoreHarness;
  let bus: RefusingBus;

  before(async () => {
    bus = new RefusingBus();
    h = await CoreHarness.start({ bus, pollMs: 100, captureLogs: true, config: { CORE_OUTBOX_MAX_ATTEMPTS: String(MAX_ATTEMPTS) } });
    await h.online(h.bob, 'bob-phone');
    await h.online(h.carol, 'carol-phone');
  });
  after(async () => {
    await h.close();
  });

  test('a push that keeps failing is given up after the attempt limit with one actionable log line; later messages of its conversation go out; the message stays pullable', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    const poison = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('poison pill') });
    const later1 = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('after it 1') });
    const later2 = await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('after it 2') });

    const laterIds = [later1.messageId, later2.messageId];
    await eventually('the later messages reached bob', () => h.messagesFor(h.bob, 'bob-phone').filter((m) => laterIds.includes(m.messageId)).length === 2, 10_000);
    assert.deepEqual(
      h.messagesFor(h.bob, 'bob-phone').filter((m) => laterIds.includes(m.messageId)).map((m) => m.seq),
      [later1.seq, later2.seq],
    );
    // The later rows went out with the poison row's first attempt (a batch is
    // published back to back); the poison row then retries alone until it dies.
    await eventually('the poison row to reach outbox_dead', async () => (await h.count('outbox_dead')) === 1, 10_000);
    assert.equal(h.messagesFor(h.bob, 'bob-phone').some((m) => m.messageId === poison.messageId), false);
    assert.equal(bus.attempts.get(poison.messageId), MAX_ATTEMPTS, 'tried exactly CORE_OUTBOX_MAX_ATTEMPTS times');

    const dead = await h.query<{ message_id: string; seq: number; attempts: number; last_error: string }>(
      'SELECT message_id, seq, attempts, last_error FROM core.outbox_dead',
    );
    assert.deepEqual(dead, [{ message_id: poison.messageId, seq: poison.seq, attempts: MAX_ATTEMPTS, last_error: 'poison message rejected' }]);
    assert.equal(await h.count('outbox'), 0, 'the dead row left the outbox');

    await eventually('the dead-letter log line', () => h.logs.some((line) => line.level >= 50), 5_000);
    const errors = h.logs.filter((line) => line.level >= 50);
    assert.equal(errors.length, 1, `one error line, got ${JSON.stringify(errors)}`);
    const [line] = errors;
    assert.equal(line!.messageId, poison.messageId);
    assert.equal(line!.conversationId, poison.conversationId);
    assert.equal(line!.attempts, MAX_ATTEMPTS);
    assert.equal(line!.lastError, 'poison message rejected');
    assert.match(line!.msg, /stored and clients get it by sync/);
    assert.match(line!.msg, new RegExp(`requeue-dead\\.ts ${poison.messageId}$`));

    const metrics = await h.scrape();
    assert.equal(sample(metrics, 'core_outbox_dead_total'), 1);
    assert.equal(sample(metrics, 'core_outbox_dead_rows'), 1);
    assert.equal(sample(metrics, 'core_push_publishes_total', { kind: 'message', outcome: 'failed' }), MAX_ATTEMPTS);
    assert.equal(sample(metrics, 'core_push_publishes_total', { kind: 'message', outcome: 'delivered' }), 2);

    // The stored message is untouched: bob gets it by pulling.
    const pulled = await h.messagesAs(h.bob, 'bob-phone').pullMessages({ conversationId: poison.conversationId, afterSeq: 0 });
    assert.deepEqual(
      pulled.messages.map((m) => m.messageId),
      [poison.messageId, later1.messageId, later2.messageId],
    );
  });

  test('with a bus that rejects everything each row dies after the limit; the requeue command lists them, puts named ones back, and they are pushed in order', async () => {
    const alice = h.messagesAs(h.alice, 'alice-phone');
    bus.rejectAll = true;
    const first = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('outage 1') });
    const second = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('outage 2') });
    const sent = [first, second];
    await eventually(
      'both rows dead',
      async () => (await h.count('outbox_dead', 'conversation_id = $1', [first.conversationId])) === 2,
      10_000,
    );
    const dead = await h.query<{ seq: number; attempts: number; last_error: string }>(
      'SELECT seq, attempts, last_error FROM core.outbox_dead WHERE conversation_id = $1 ORDER BY id',
      [first.conversationId],
    );
    assert.deepEqual(dead, sent.map((s) => ({ seq: s.seq, attempts: MAX_ATTEMPTS, last_error: 'broker refused the push' })));
    assert.equal(bus.attempts.get(first.messageId), MAX_ATTEMPTS);
    // The head retries alone, and the second row goes only once the head is dead.
    // If both were claimed in the first pass, the second also went out once with
    // the head's first attempt (a batch is published back to back); failing
    // behind the head, that try does not count.
    const secondTries = bus.attempts.get(second.messageId)!;
    assert.ok(secondTries === MAX_ATTEMPTS || secondTries === MAX_ATTEMPTS + 1, `the second row was published ${secondTries} times`);
    assert.equal(await h.count('outbox'), 0);
    assert.equal(sample(await h.scrape(), 'core_outbox_dead_total'), 3, 'the poison row of the test before, and these two');

    bus.rejectAll = false;
    const listed = await runRequeue(h.db.url, ['--list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout.match(/^dead: /gm)?.length, 3, listed.stdout);
    for (const s of sent) assert.match(listed.stdout, new RegExp(`dead: message ${s.messageId} .*attempts ${MAX_ATTEMPTS} .*broker refused the push`));
    assert.equal(await h.count('outbox_dead'), 3, '--list changes nothing');

    // Pasted in upper case, as ids sometimes are.
    const requeued = await runRequeue(h.db.url, sent.map((s) => s.messageId.toUpperCase()));
    assert.equal(requeued.code, 0, requeued.stderr + requeued.stdout);
    assert.match(requeued.stdout, /2 row\(s\) back in the outbox/);
    await eventually('carol got both', () => h.messagesFor(h.carol, 'carol-phone').length === 2, 5_000);
    assert.deepEqual(
      h.messagesFor(h.carol, 'carol-phone').map((m) => m.messageId),
      sent.map((s) => s.messageId),
    );
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);
    const left = await h.query<{ text: string }>('SELECT message_id::text AS text FROM core.outbox_dead');
    assert.equal(left.length, 1, 'only the poison row is still dead');
    assert.equal(sample(await h.scrape(), 'core_outbox_dead_rows'), 1);
  });

  test('the outbox gauges show the backlog, the age of its oldest row and dead rows; publishes are counted by outcome and latency runs from commit to confirm', async () => {
    const before = await h.scrape();
    const conversationId = (await h.messagesAs(h.alice, 'alice-phone').sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: text('warm-up') }))
      .conversationId;
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);
    const warm = await h.scrape();
    assert.equal(sample(warm, 'core_push_publishes_total', { kind: 'message', outcome: 'delivered' }) - sample(before, 'core_push_publishes_total', { kind: 'message', outcome: 'delivered' }), 1);

    // A row committed 42 s ago and not yet due, like one waiting out a backoff.
    const content = messageV1.MessageContent.encode(text('late one')).finish();
    const late = await h.storeElsewhere(conversationId, h.alice, content, { committedSecondsAgo: 42, dueInSeconds: 3600 });
    let metrics = await h.scrape();
    assert.equal(sample(metrics, 'core_outbox_backlog'), 1);
    const age = sample(metrics, 'core_outbox_oldest_pending_age_seconds');
    assert.ok(age >= 42 && age < 60, `oldest pending age ${age}`);
    assert.equal(sample(metrics, 'core_outbox_dead_rows'), 1);

    // Carol also has a tablet on a node that is gone: that publish is unroutable.
    await h.presence.register({ userId: h.carol, deviceId: 'carol-tablet', nodeId: 'node-gone', connectionId: 'c-gone', epoch: 1 }, 60);
    await h.query('UPDATE core.outbox SET next_attempt_at = now() WHERE message_id = $1', [late.messageId]);
    await eventually('carol got the late one', () => h.messagesFor(h.carol, 'carol-phone').some((m) => m.messageId === late.messageId));
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);

    metrics = await h.scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => sample(metrics, name, labels) - sample(warm, name, labels);
    assert.equal(sample(metrics, 'core_outbox_backlog'), 0);
    assert.equal(sample(metrics, 'core_outbox_oldest_pending_age_seconds'), 0);
    assert.equal(delta('core_push_publishes_total', { kind: 'message', outcome: 'delivered' }), 1);
    assert.equal(delta('core_push_publishes_total', { kind: 'message', outcome: 'unroutable' }), 1);
    assert.equal(delta('core_push_publishes_total', { kind: 'message', outcome: 'failed' }), 0);
    assert.equal(delta('core_message_delivery_latency_seconds_count'), 1);
    assert.ok(delta('core_message_delivery_latency_seconds_sum') >= 42, 'latency counts from the commit, not from the claim');
    assert.equal(delta('core_message_delivery_latency_seconds_bucket', { le: '30' }), 0);
    assert.equal(delta('core_message_delivery_latency_seconds_bucket', { le: '+Inf' }), 1);
  });
});
