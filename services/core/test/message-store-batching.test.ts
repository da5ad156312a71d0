// MessageStore under concurrent sends: the sends that queue behind a transaction
// share the next one, of one conversation or of many, yet each keeps its own
// outcome. A refused send stores nothing and leaves no gap in the seqs; twins in
// one batch resolve to one message; each conversation keeps its send order; and
// the batch really shares commits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { AppError, createLogger, openDatabase, uuidv7 } from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { directConversationId } from '../src/messages/direct-conversation.js';
import { MessageStore, type NewMessage, type SendOutcome } from '../src/storage/message-store.js';
import { coreMigrations } from '../src/storage/migrations/index.js';

const alice = randomUUID();
const bob = randomUUID();
const conversationId = directConversationId(alice, bob);

function directSend(clientMsgId: string, overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    messageId: uuidv7(),
    conversationId,
    directMembers: [alice, bob],
    peerConfirmed: true,
    senderId: alice,
    senderDeviceId: 'alice-phone',
    clientMsgId,
    content: Buffer.from('hello'),
    mentionUserIds: [],
    kind: 1,
    searchText: null,
    ...overrides,
  };
}

/**
 * Waits until `count` sessions of the test database wait for a lock (5 s at
 * most). Asked through `database`, not the blocking client: inside its open
 * transaction pg_stat_activity stays a snapshot.
 */
async function untilWaitingForLocks(database: DataSource, count: number, what: string): Promise<void> {
  for (let waited = 0; ; waited += 20) {
    const [row] = await database.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if (row.n === count) return;
    assert.ok(waited < 5_000, what);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function storedSeq(outcome: SendOutcome): number {
  assert.ok(outcome.kind === 'stored' || outcome.kind === 'duplicate', `stored, not ${outcome.kind}`);
  return outcome.message.seq;
}

function storedId(outcome: SendOutcome): string {
  assert.ok(outcome.kind === 'stored' || outcome.kind === 'duplicate', `stored, not ${outcome.kind}`);
  return outcome.message.messageId;
}

describe('MessageStore: concurrent sends to one conversation', () => {
  let db: TestDatabase;
  let database: DataSource;
  let store: MessageStore;

  before(async () => {
    db = await createTestDatabase('core');
    database = await openDatabase({ url: db.url, schema: 'core', migrations: coreMigrations, logger: createLogger({ service: 'test', level: 'silent' }) });
    store = new MessageStore(database);
    // The conversation exists, so the sends below only append.
    await store.send(directSend('first'));
  });
  after(async () => {
    await database.destroy();
    await db.drop();
  });

  test('a refused send among 30 concurrent ones stores nothing; the others get consecutive seqs', async () => {
    const refusal = AppError.permissionDenied('refused by policy', 'TEST_REFUSAL');
    const sends = Array.from({ length: 30 }, (_, i) =>
      store.send(
        directSend(`burst-${i}`, i === 7 ? { check: async () => Promise.reject(refusal) } : {}),
      ),
    );
    const settled = await Promise.allSettled(sends);
    const refused = settled[7]!;
    assert.equal(refused.status, 'rejected');
    assert.equal((refused as PromiseRejectedResult).reason, refusal);
    const seqs = settled.filter((s, i) => i !== 7).map((s) => storedSeq((s as PromiseFulfilledResult<SendOutcome>).value));
    assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 29 }, (_, i) => i + 2), 'seq 2..30, no gap where the refused send was');
    const [row] = await database.query(`SELECT count(*)::int AS n FROM core.messages WHERE client_msg_id = 'burst-7'`);
    assert.equal(row.n, 0, 'the refused send stored nothing');
    const [outbox] = await database.query('SELECT count(*)::int AS n FROM core.outbox');
    assert.equal(outbox.n, 30, 'one outbox row per stored message');
  });

  test('a send retried alone gets the message it stored before, even when its check, asked beside the dedupe, now refuses it', async () => {
    const original = await store.send(directSend('retried-alone'));
    assert.equal(original.kind, 'stored');
    const refusal = AppError.permissionDenied('blocked since', 'TEST_BLOCKED_SINCE');
    const retried = await store.send(directSend('retried-alone', { check: async () => Promise.reject(refusal) }));
    assert.equal(retried.kind, 'duplicate');
    assert.equal(storedId(retried), storedId(original));
    await assert.rejects(store.send(directSend('new-after-block', { check: async () => Promise.reject(refusal) })), (error) => error === refusal);
  });

  test('twins sent at once resolve to one message: the same id and seq, one of them marked duplicate', async () => {
    const original = directSend('twin');
    // The first send takes the conversation's transaction; the twins queue behind it and share the next one.
    const [, a, b] = await Promise.all([store.send(directSend('ahead')), store.send(original), store.send({ ...original, messageId: uuidv7() })]);
    assert.equal(storedSeq(a!), storedSeq(b!));
    assert.deepEqual([a!.kind, b!.kind].sort(), ['duplicate', 'stored']);
    const [row] = await database.query(`SELECT count(*)::int AS n FROM core.messages WHERE client_msg_id = 'twin'`);
    assert.equal(row.n, 1);
  });

  test('sends that queue behind a commit share the next one: fewer commits than sends', async () => {
    const commits = async () => {
      const [row] = await database.query('SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = current_database()');
      return Number(row.n);
    };
    // Statistics reach pg_stat_database when a backend reports them; force it.
    const flush = () => database.query('SELECT pg_stat_clear_snapshot()');
    await flush();
    const before = await commits();
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.send(directSend(`shared-${i}`))));
    // Backends report their counters to the statistics at most once a second, when idle.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await flush();
    const used = (await commits()) - before;
    console.log(`100 concurrent sends to one conversation: ${used} commits`);
    assert.ok(used >= 2, `the commits were counted (${used})`);
    assert.ok(used < 50, `100 sends used ${used} commits`);
  });

  test('twins racing from two core instances: both pass the dedupe check, the unique key decides, both answers name one message', async () => {
    const otherInstance = new MessageStore(database);
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    const twin = directSend('cross-instance-twin');
    let outcomes: SendOutcome[];
    try {
      // Holding the conversation row makes both wait on the seq update after their dedupe checks.
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM core.conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      const racing = [store.send(twin), otherInstance.send({ ...twin, messageId: uuidv7() })];
      await untilWaitingForLocks(database, 2, 'both instances reached the seq update');
      await blocker.query('COMMIT');
      outcomes = await Promise.all(racing);
    } finally {
      await blocker.end();
    }
    assert.deepEqual(outcomes.map((o) => o.kind).sort(), ['duplicate', 'stored']);
    assert.equal(storedSeq(outcomes[0]!), storedSeq(outcomes[1]!));
    assert.equal(storedId(outcomes[0]!), storedId(outcomes[1]!));
  });

  test('sends sharing a check key in one transaction are judged once; outbox rows follow seq order', async () => {
    let checks = 0;
    const check = async () => {
      checks += 1;
    };
    const checkMany = async (_sql: unknown, messages: readonly NewMessage[]) => {
      checks += 1;
      return messages.map(() => undefined);
    };
    const sends = Array.from({ length: 20 }, (_, i) => store.send(directSend(`keyed-${i}`, { check, sharedCheck: { key: 'alice|text', checkMany } })));
    const outcomes = await Promise.all(sends);
    assert.ok(checks < 20, `${checks} checks for 20 sends`);
    const seqs = outcomes.map(storedSeq);
    const rows: Array<{ seq: number }> = await database.query(
      'SELECT seq FROM core.outbox WHERE message_id = ANY($1::uuid[]) ORDER BY id',
      [outcomes.map(storedId)],
    );
    assert.deepEqual(rows.map((row) => Number(row.seq)), [...seqs].sort((a, b) => a - b), 'outbox id order is seq order');
  });

  test('a batch with mentions goes send by send in savepoints: a refusal still leaves the others stored without a gap', async () => {
    const [, last] = await Promise.all([store.send(directSend('before-mentions')), store.send(directSend('probe'))]);
    const start = storedSeq(last!);
    const refusal = AppError.permissionDenied('refused by policy', 'TEST_REFUSAL');
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        store.send(
          directSend(`mention-${i}`, {
            ...(i === 3 && { mentionUserIds: [bob] }),
            ...(i === 5 && { check: async () => Promise.reject(refusal) }),
          }),
        ),
      ),
    );
    assert.equal(settled[5]!.status, 'rejected');
    const seqs = settled.filter((_, i) => i !== 5).map((s) => storedSeq((s as PromiseFulfilledResult<SendOutcome>).value));
    assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 9 }, (_, i) => start + 1 + i));
  });

  test('concurrent first messages of a new direct conversation create it once and are all stored', async () => {
    const carol = randomUUID();
    const dave = randomUUID();
    const fresh = directConversationId(carol, dave);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.send(directSend(`fresh-${i}`, { conversationId: fresh, directMembers: [carol, dave], senderId: i % 2 ? carol : dave })),
      ),
    );
    assert.deepEqual(outcomes.map(storedSeq).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1));
    const [members] = await database.query('SELECT count(*)::int AS n FROM core.conversation_members WHERE conversation_id = $1', [fresh]);
    assert.equal(members.n, 2);
  });

  test('beyond maxPendingSends a send is refused at once with RESOURCE_EXHAUSTED; a send whose caller gave up is never written', async () => {
    const small = new MessageStore(database, { maxPendingSends: 5 });
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM core.conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      const cancelled = new AbortController();
      const queued = [
        small.send(directSend('pending-0')),
        small.send(directSend('pending-1')),
        small.send(directSend('pending-gave-up'), cancelled.signal),
        small.send(directSend('pending-3')),
        small.send(directSend('pending-4')),
      ];
      const settling = Promise.allSettled(queued);
      const refused = await small.send(directSend('one-too-many')).then(
        () => assert.fail('the sixth send was accepted'),
        (error: unknown) => error,
      );
      assert.ok(refused instanceof AppError);
      assert.equal(refused.code, 'resource_exhausted');
      assert.equal(refused.reason, 'SEND_QUEUE_FULL');
      assert.ok(refused.retryAfterMs! > 0);
      // Its place frees at once: the queue takes a send again before anything committed.
      cancelled.abort();
      const replacement = small.send(directSend('pending-replacement'));
      await blocker.query('COMMIT');
      assert.equal((await replacement).kind, 'stored');
      const settled = await settling;
      assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      assert.equal((settled[2] as PromiseRejectedResult).reason.name, 'AbortError');
    } finally {
      await blocker.end().catch(() => undefined);
    }
    const rows: Array<{ client_msg_id: string }> = await database.query(
      "SELECT client_msg_id FROM core.messages WHERE client_msg_id LIKE 'pending-%' OR client_msg_id = 'one-too-many' ORDER BY seq",
    );
    assert.deepEqual(rows.map((row) => row.client_msg_id), ['pending-0', 'pending-1', 'pending-3', 'pending-4', 'pending-replacement']);
    // The queue has room again.
    assert.equal(storedSeq(await small.send(directSend('after-the-wave'))) > 0, true);
  });

  test('in one batch to a group: a non-member is answered not_member and a send whose statement fails fails alone; the others are stored', async () => {
    const group = `g-${randomUUID()}`;
    const eve = randomUUID();
    await database.query('INSERT INTO core.conversations (id, type) VALUES ($1, 2)', [group]);
    await database.query('INSERT INTO core.conversation_members (conversation_id, user_id) VALUES ($1, $2), ($1, $3)', [group, alice, bob]);
    const toGroup = (clientMsgId: string, overrides: Partial<NewMessage> = {}) =>
      directSend(clientMsgId, { conversationId: group, directMembers: undefined, ...overrides });
    const settled = await Promise.allSettled([
      store.send(toGroup('group-ahead')),
      store.send(toGroup('group-alice')),
      store.send(toGroup('group-eve', { senderId: eve })),
      store.send(toGroup('group-broken', { afterStore: async () => Promise.reject(new Error('statement failed')) })),
      store.send(toGroup('group-bob', { senderId: bob })),
    ]);
    assert.deepEqual(settled.map((s) => (s.status === 'fulfilled' ? s.value.kind : (s.reason as Error).message)), [
      'stored',
      'stored',
      'not_member',
      'statement failed',
      'stored',
    ]);
    const rows: Array<{ client_msg_id: string; seq: number }> = await database.query(
      'SELECT client_msg_id, seq FROM core.messages WHERE conversation_id = $1 ORDER BY seq',
      [group],
    );
    assert.deepEqual(rows.map((row) => [row.client_msg_id, Number(row.seq)]), [
      ['group-ahead', 1],
      ['group-alice', 2],
      ['group-bob', 3],
    ]);
  });

  test('one conversation may fill a tenth of the queue: beyond it its sends are refused while another conversation still sends', async () => {
    const bounded = new MessageStore(database, { maxPendingSends: 1_000 });
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    let queued: Array<Promise<SendOutcome>> = [];
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM core.conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      // One in its transaction (waiting on the row), a hundred waiting behind it.
      queued = Array.from({ length: 101 }, (_, i) => bounded.send(directSend(`hot-${i}`)));
      const refused = await bounded.send(directSend('hot-one-too-many')).then(
        () => assert.fail('the hot conversation took more than a tenth of the queue'),
        (error: unknown) => error,
      );
      assert.ok(refused instanceof AppError && refused.reason === 'SEND_QUEUE_FULL');
      const carol = randomUUID();
      const elsewhere = await bounded.send(
        directSend('cool', { conversationId: directConversationId(alice, carol), directMembers: [alice, carol] }),
      );
      assert.equal(elsewhere.kind, 'stored');
      await blocker.query('COMMIT');
      assert.equal((await Promise.all(queued)).filter((outcome) => outcome.kind === 'stored').length, 101);
    } finally {
      await blocker.end().catch(() => undefined);
    }
  });
});

describe('MessageStore: sends of many conversations waiting together', () => {
  let db: TestDatabase;
  let database: DataSource;
  const users = Array.from({ length: 5 }, () => randomUUID());
  /** Direct conversations of users[0] with each of the others, created before the tests. */
  const conversations = users.slice(1).map((peer) => ({ peer, id: directConversationId(users[0]!, peer) }));
  const [held, ...others] = conversations;

  const sendTo = (conversation: { peer: string; id: string }, clientMsgId: string, overrides: Partial<NewMessage> = {}) =>
    directSend(clientMsgId, { conversationId: conversation.id, directMembers: [users[0]!, conversation.peer], senderId: users[0]!, ...overrides });

  /** Runs `queue` while a transaction of `store` is stuck on the held conversation's row, then lets it go. */
  async function whileTheOnlyTransactionWaits(
    store: MessageStore,
    queue: () => Array<Promise<SendOutcome>>,
  ): Promise<{ queued: Array<Promise<SendOutcome>>; first: SendOutcome }> {
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM core.conversations WHERE id = $1 FOR UPDATE', [held!.id]);
      const first = store.send(sendTo(held!, `held-${randomUUID()}`));
      await untilWaitingForLocks(database, 1, 'the first send reached the row lock');
      const queued = queue();
      // Refusals may settle before the caller looks at them: not unhandled.
      for (const send of queued) send.catch(() => undefined);
      await blocker.query('COMMIT');
      return { queued, first: await first };
    } finally {
      await blocker.end().catch(() => undefined);
    }
  }

  before(async () => {
    db = await createTestDatabase('core');
    database = await openDatabase({ url: db.url, schema: 'core', migrations: coreMigrations, logger: createLogger({ service: 'test', level: 'silent' }) });
    const setup = new MessageStore(database);
    for (const conversation of conversations) await setup.send(sendTo(conversation, `hello-${conversation.peer}`));
  });
  after(async () => {
    await database.destroy();
    await db.drop();
  });

  test('sends to three conversations that waited for the one transaction go in one: each conversation in send order without gaps, a refused one stores nothing', async () => {
    const store = new MessageStore(database, { maxSendTransactions: 1 });
    const refusal = AppError.permissionDenied('refused by policy', 'TEST_REFUSAL');
    const { queued } = await whileTheOnlyTransactionWaits(store, () =>
      // Interleaved: a, b, c, a, b, c... ; the fifth send (to b) is refused.
      Array.from({ length: 12 }, (_, i) =>
        store.send(sendTo(others[i % 3]!, `across-${i}`, i === 4 ? { check: async () => Promise.reject(refusal) } : {})),
      ),
    );
    const settled = await Promise.allSettled(queued);
    assert.equal(settled[4]!.status, 'rejected');
    assert.equal((settled[4] as PromiseRejectedResult).reason, refusal);
    for (const [index, conversation] of others.entries()) {
      const seqs = settled
        .map((result, i) => ({ result, i }))
        .filter(({ i }) => i % 3 === index && i !== 4)
        .map(({ result }) => storedSeq((result as PromiseFulfilledResult<SendOutcome>).value));
      // Seq 1 was the setup's hello: the sends follow in the order they were made.
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, k) => k + 2), `conversation ${index}: ${seqs.join(',')}`);
      const outbox: Array<{ seq: string }> = await database.query('SELECT seq FROM core.outbox WHERE conversation_id = $1 ORDER BY id', [conversation.id]);
      assert.deepEqual(outbox.map((row) => Number(row.seq)), [1, ...seqs], 'outbox id order is seq order');
    }
    const writers: Array<{ n: number }> = await database.query(
      "SELECT count(DISTINCT xmin::text)::int AS n FROM core.messages WHERE client_msg_id LIKE 'across-%'",
    );
    assert.equal(writers[0]!.n, 1, 'the eleven stored messages of three conversations were written by one transaction');
    const [refusedRow] = await database.query("SELECT count(*)::int AS n FROM core.messages WHERE client_msg_id = 'across-4'");
    assert.equal(refusedRow.n, 0);
  });

  test('twins to different conversations in one shared transaction resolve to the first; a check key speaks for one conversation only', async () => {
    const store = new MessageStore(database, { maxSendTransactions: 1 });
    const checked: string[] = [];
    const refusalFor = (conversationId: string) => {
      checked.push(conversationId);
      return conversationId === others[1]!.id ? AppError.permissionDenied('blocked here only', 'TEST_BLOCKED') : undefined;
    };
    const judged = {
      check: async (message: NewMessage) => {
        const refusal = refusalFor(message.conversationId);
        if (refusal) throw refusal;
      },
      sharedCheck: { key: 'same-key', checkMany: async (_sql: unknown, messages: readonly NewMessage[]) => messages.map((message) => refusalFor(message.conversationId)) },
    };
    const keyed = (message: NewMessage): NewMessage => ({ ...message, check: () => judged.check(message), sharedCheck: judged.sharedCheck });
    const { queued } = await whileTheOnlyTransactionWaits(store, () => [
      store.send(keyed(sendTo(others[0]!, 'cross-conversation-twin'))),
      store.send(keyed(sendTo(others[2]!, 'cross-conversation-twin'))),
      store.send(keyed(sendTo(others[1]!, 'keyed-elsewhere'))),
    ]);
    const [first, second, blocked] = await Promise.allSettled(queued);
    const a = (first as PromiseFulfilledResult<SendOutcome>).value;
    const b = (second as PromiseFulfilledResult<SendOutcome>).value;
    assert.equal(a.kind, 'stored');
    assert.equal(b.kind, 'duplicate', 'the same client_msg_id of the same sender names the message already sent');
    assert.equal(storedId(b), storedId(a));
    assert.equal(blocked!.status, 'rejected', 'the refusal in one conversation is not taken for another with the same key');
    assert.deepEqual([...checked].sort(), [others[0]!.id, others[1]!.id].sort(), 'one check per conversation; the twin was not checked again');
  });

  test('sends with a checkMany are judged with one call for every conversation of the shared transaction; a refusal for one conversation stops only its sends', async () => {
    const store = new MessageStore(database, { maxSendTransactions: 1 });
    const calls: string[][] = [];
    const refused = AppError.permissionDenied('not in this one', 'TEST_REFUSED_HERE');
    const checkMany = async (_sql: unknown, messages: readonly NewMessage[]) => {
      calls.push(messages.map((message) => message.conversationId));
      return messages.map((message) => (message.conversationId === others[1]!.id ? refused : undefined));
    };
    const never = async () => assert.fail('a send with a checkMany is not checked alone in a shared transaction');
    const { queued } = await whileTheOnlyTransactionWaits(store, () =>
      Array.from({ length: 6 }, (_, i) => store.send(sendTo(others[i % 3]!, `judged-${i}`, { check: never, sharedCheck: { key: 'sender|text', checkMany } }))),
    );
    const settled = await Promise.allSettled(queued);
    assert.deepEqual(settled.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.equal((settled[1] as PromiseRejectedResult).reason, refused);
    assert.equal(calls.length, 1, 'one call for the whole transaction');
    assert.deepEqual([...calls[0]!].sort(), others.map((conversation) => conversation.id).sort(), 'one send per conversation and key');
  });

  test('a retried send in a shared transaction gets the message it stored before, even when its check, asked beside the dedupe, now refuses it', async () => {
    const store = new MessageStore(database, { maxSendTransactions: 1 });
    const original = await store.send(sendTo(others[0]!, 'retried-after-block'));
    assert.equal(original.kind, 'stored');
    // Since then the recipient blocked the sender: every new send is refused.
    const blocked = AppError.permissionDenied('blocked since', 'TEST_BLOCKED_SINCE');
    const checkMany = async (_sql: unknown, messages: readonly NewMessage[]) => messages.map(() => blocked);
    const judged = (message: NewMessage): NewMessage => ({ ...message, sharedCheck: { key: 'sender|text', checkMany } });
    const { queued } = await whileTheOnlyTransactionWaits(store, () => [
      store.send(judged(sendTo(others[0]!, 'retried-after-block'))),
      store.send(judged(sendTo(others[1]!, 'new-after-block'))),
    ]);
    const [retried, fresh] = await Promise.allSettled(queued);
    assert.equal(retried!.status, 'fulfilled', 'the retry is answered from what was stored, not judged again');
    const answer = (retried as PromiseFulfilledResult<SendOutcome>).value;
    assert.equal(answer.kind, 'duplicate');
    assert.equal(storedId(answer), storedId(original));
    assert.equal(fresh!.status, 'rejected');
    assert.equal((fresh as PromiseRejectedResult).reason, blocked);
  });

  test('a new direct conversation among them is written on its own after the shared transaction, which still carries the others', async () => {
    const store = new MessageStore(database, { maxSendTransactions: 1 });
    const stranger = randomUUID();
    const fresh = { peer: stranger, id: directConversationId(users[0]!, stranger) };
    const { queued } = await whileTheOnlyTransactionWaits(store, () => [
      store.send(sendTo(others[0]!, 'beside-fresh-0')),
      store.send(sendTo(fresh, 'fresh-first')),
      store.send(sendTo(others[1]!, 'beside-fresh-1')),
      store.send(sendTo(fresh, 'fresh-second')),
    ]);
    const outcomes = await Promise.all(queued);
    assert.deepEqual(outcomes.map((outcome) => outcome.kind), ['stored', 'stored', 'stored', 'stored']);
    assert.deepEqual([storedSeq(outcomes[1]!), storedSeq(outcomes[3]!)], [1, 2], 'the new conversation starts at seq 1, in send order');
    const [members] = await database.query('SELECT count(*)::int AS n FROM core.conversation_members WHERE conversation_id = $1', [fresh.id]);
    assert.equal(members.n, 2);
    const writers: Array<{ n: number }> = await database.query(
      "SELECT count(DISTINCT xmin::text)::int AS n FROM core.messages WHERE client_msg_id IN ('beside-fresh-0', 'beside-fresh-1')",
    );
    assert.equal(writers[0]!.n, 1, 'the two existing conversations still shared one transaction');
  });
});
