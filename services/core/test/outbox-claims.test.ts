// Claims left by a dead relay: a claim is only the row locks of the claiming
// transaction, so when a relay dies (its session terminated, its process
// SIGKILLed) or stalls inside its claim (cut off by idle_in_transaction_session_timeout),
// PostgreSQL releases the rows and another relay pushes them at its next poll,
// once each and in order. While the claiming relay lives, nobody else takes them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { messageV1 } from '@im-mesh/contracts';
import { createLogger, openDatabase, type PushBus, type PushMessage } from '@im-mesh/platform';
import { createCoreMetrics } from '../src/core-metrics.js';
import { OutboxRelay } from '../src/outbox/outbox-relay.js';
import { Pusher } from '../src/push/pusher.js';
import { coreMigrations } from '../src/storage/migrations/index.js';
import { OutboxStore } from '../src/storage/outbox-store.js';
import { CoreHarness, eventually, text, toUser } from './support/core-harness.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLAIM_AND_HANG = fileURLToPath(new URL('./support/claim-and-hang.ts', import.meta.url));
/** Relay B (the harness core) polls this often: "promptly" is a few polls. */
const POLL_MS = 100;

/** A bus whose publishes never confirm until released: the relay sits inside its claim. */
class StalledBus implements PushBus {
  readonly capabilities = { durable: false, orderedPerNode: true, deliveryLimit: 1 };
  calls = 0;
  private readonly pending: Array<(error: Error) => void> = [];
  async consume() {
    return { close: async () => undefined };
  }
  publish(_nodeId: string, _message: PushMessage): Promise<never> {
    this.calls += 1;
    return new Promise((_resolve, reject) => this.pending.push(reject));
  }
  /** Fails every publish still waiting, so the stalled relay can stop. */
  release(): void {
    for (const reject of this.pending.splice(0)) reject(new Error('test over'));
  }
  async backlog(): Promise<number | undefined> {
    return undefined;
  }

  async close() {
    this.release();
  }
}

/** Relay A: a real OutboxRelay on its own pool, publishing to a bus that never confirms. */
async function startStalledRelay(h: CoreHarness, idleInTransactionTimeoutMs?: number) {
  const logger = createLogger({ service: 'relay-a', level: 'silent' });
  const database = await openDatabase({ url: h.db.url, schema: 'core', migrations: coreMigrations, logger, poolSize: 2, idleInTransactionTimeoutMs });
  const store = new OutboxStore(database);
  const metrics = createCoreMetrics(new Registry(), () => store.stats());
  const bus = new StalledBus();
  const relay = new OutboxRelay({ store, pusher: new Pusher(h.presence, bus, metrics), metrics, logger, databaseUrl: h.db.url, pollIntervalMs: 60_000 });
  await relay.start();
  return {
    bus,
    async close() {
      bus.release();
      await relay.stop();
      await database.destroy();
    },
  };
}

describe('outbox claims of a dead relay', () => {
  let h: CoreHarness;
  let conversationId: string;

  before(async () => {
    h = await CoreHarness.start({ pollMs: POLL_MS });
    await h.online(h.bob, 'bob-phone');
    const sent = await h.messagesAs(h.alice, 'alice-phone').sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hello') });
    conversationId = sent.conversationId;
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);
  });
  after(async () => {
    await h.close();
  });

  /** With relay B (the harness core) stopped, stores three messages as another instance would, unnoticed. */
  async function storeWhileRelayBIsDown(label: string): Promise<Array<{ messageId: string; seq: number }>> {
    await h.core.stop();
    const stored = [];
    for (let i = 1; i <= 3; i += 1) {
      stored.push(await h.storeElsewhere(conversationId, h.alice, messageV1.MessageContent.encode(text(`${label} ${i}`)).finish()));
    }
    return stored;
  }

  /** How many of these rows a relay could claim right now. */
  async function claimable(messageIds: string[]): Promise<number> {
    const rows = await h.query('SELECT id FROM core.outbox WHERE message_id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED', [messageIds]);
    return rows.length;
  }

  /** Starts relay B, checks it leaves the held rows alone, and returns when they can be released. */
  async function relayBRespectsTheClaim(messageIds: string[]): Promise<void> {
    assert.equal(await claimable(messageIds), 0, 'the rows are claimed');
    await h.startCore();
    await sleep(5 * POLL_MS);
    assert.equal(
      h.messagesFor(h.bob, 'bob-phone').some((m) => messageIds.includes(m.messageId)),
      false,
      'while the claiming relay lives, no other relay takes its rows',
    );
  }

  async function relayBPushesThemPromptly(stored: Array<{ messageId: string; seq: number }>, releasedAt: number, what: string): Promise<void> {
    const ids = stored.map((s) => s.messageId);
    const got = () => h.messagesFor(h.bob, 'bob-phone').filter((m) => ids.includes(m.messageId));
    await eventually('relay B pushed all three', () => got().length >= 3, 3_000);
    console.log(`relay B pushed the rows ${Date.now() - releasedAt} ms after ${what}`);
    await eventually('outbox empty', async () => (await h.count('outbox')) === 0);
    assert.deepEqual(
      got().map((m) => m.seq),
      stored.map((s) => s.seq),
      'once each, in seq order',
    );
  }

  test('a relay whose database session is terminated while it holds claimed rows loses the claim with it: another relay pushes them promptly, once each and in order', async () => {
    // A claim is nothing but row locks: no column records a claimant, so nothing outlives the transaction.
    const columns = await h.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = 'outbox' ORDER BY ordinal_position",
    );
    assert.deepEqual(
      columns.map((c) => c.column_name),
      ['id', 'message_id', 'conversation_id', 'seq', 'created_at', 'attempts', 'next_attempt_at', 'last_error'],
    );

    const stored = await storeWhileRelayBIsDown('held by a relay that dies');
    const ids = stored.map((s) => s.messageId);
    const relayA = await startStalledRelay(h);
    try {
      await eventually('relay A is publishing inside its claim', () => relayA.bus.calls >= 1);
      // The session holding the lock is the one whose transaction id is the row's xmax.
      const [holder] = await h.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE backend_xid = (SELECT xmax FROM core.outbox WHERE message_id = $1)',
        [ids[0]],
      );
      assert.ok(holder, "relay A's session holds the rows");
      await relayBRespectsTheClaim(ids);

      const killedAt = Date.now();
      await h.query('SELECT pg_terminate_backend($1)', [holder.pid]);
      await relayBPushesThemPromptly(stored, killedAt, "relay A's session was terminated");
    } finally {
      await relayA.close();
    }
  });

  test('a relay process killed with SIGKILL while holding claimed rows releases them: another relay pushes them promptly', async () => {
    const stored = await storeWhileRelayBIsDown('held by a process that is killed');
    const ids = stored.map((s) => s.messageId);
    const child = spawn(process.execPath, ['--import', 'tsx', CLAIM_AND_HANG], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: h.db.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, 'line')) as [string];
      assert.deepEqual(JSON.parse(line), ids, 'the process claimed the three rows');
      await relayBRespectsTheClaim(ids);

      const killedAt = Date.now();
      child.kill('SIGKILL');
      await exited;
      await relayBPushesThemPromptly(stored, killedAt, 'the claiming process was killed');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });

  test('a relay stalled inside its claim (a publish that never confirms) is cut off by idle_in_transaction_session_timeout, and another relay pushes its rows', async () => {
    const stored = await storeWhileRelayBIsDown('held by a stalled relay');
    const ids = stored.map((s) => s.messageId);
    // Core runs with openDatabase's 60 s; 1 s here keeps the test short.
    const relayA = await startStalledRelay(h, 1_000);
    try {
      await eventually('relay A is publishing inside its claim', () => relayA.bus.calls >= 1);
      const stalledAt = Date.now();
      await relayBRespectsTheClaim(ids);
      await eventually('the stalled session was cut off', async () => (await claimable(ids)) > 0 || (await h.count('outbox')) === 0, 5_000);
      await relayBPushesThemPromptly(stored, stalledAt, 'relay A stalled (1 s timeout)');
    } finally {
      await relayA.close();
    }
  });
});
