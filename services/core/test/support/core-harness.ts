// Runs a real core for a test file: a fresh PostgreSQL database, the auth test
// double, in-process presence and push bus, real gRPC clients, and a fake
// connect node that records every envelope the bus hands it.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createChannel, createClient, Metadata, type Channel, type Client } from 'nice-grpc';
import { connectV1, internalV1, messageV1 } from '@im-mesh/contracts';
import {
  createLogger,
  MemoryPresenceRegistry,
  type AccessTokenVerifier,
  MemoryPushBus,
  type DeviceRoute,
  type PushBus,
  type BlobStorage,
  type RunningService,
} from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { loadCoreConfig, startCoreService } from '../../src/index.js';
import { startAuthTestDouble, type AuthTestDouble } from './auth-test-double.js';

export const NODE_ID = 'connect-test-node';

export type MessageClient = Client<typeof messageV1.MessageServiceDefinition>;

export interface ReceivedPush {
  pushId: string;
  targets: internalV1.PushTarget[];
  frame: connectV1.ServerFrame;
}

export interface CoreHarnessOptions {
  /** Bus the core publishes to; the fake node consumes from it. A MemoryPushBus by default. */
  bus?: PushBus;
  pollMs?: number;
  /** Extra core config (env var names), e.g. CORE_OUTBOX_MAX_ATTEMPTS. */
  config?: Record<string, string>;
  /** Keep core's warn and error log lines in `logs` (silent otherwise, unless TEST_LOG_LEVEL). */
  captureLogs?: boolean;
  /** The blob store core's FileService uses; core opens one from its config (BLOBS_*) when absent. */
  blobs?: BlobStorage;
  /** An access-token verifier for core to use instead of its own, as the all-in-one passes one. */
  tokenVerifier?: AccessTokenVerifier;
}

/** One pino log line, parsed. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

export class CoreHarness {
  /** Registered users the directory knows. */
  readonly alice = randomUUID();
  readonly bob = randomUUID();
  readonly carol = randomUUID();
  /** Well-formed but never registered. */
  readonly stranger = randomUUID();
  readonly received: ReceivedPush[] = [];
  /** Core's log lines at warn and above, when `captureLogs` is set. */
  readonly logs: LogLine[] = [];
  readonly presence = new MemoryPresenceRegistry();
  readonly bus: PushBus;
  core!: RunningService;
  auth!: AuthTestDouble;
  db!: TestDatabase;
  private pool!: pg.Pool;
  /** Connections of `pool` not yet closed; pool.end() resolves before they are. */
  private readonly poolClients = new Set<pg.PoolClient>();
  private readonly channels: Channel[] = [];
  private closeNode: (() => Promise<void>) | undefined;
  private epoch = 0;

  private constructor(private readonly options: CoreHarnessOptions) {
    this.bus = options.bus ?? new MemoryPushBus();
  }

  static async start(options: CoreHarnessOptions = {}): Promise<CoreHarness> {
    const harness = new CoreHarness(options);
    harness.db = await createTestDatabase('core');
    harness.auth = await startAuthTestDouble([harness.alice, harness.bob, harness.carol]);
    harness.pool = new pg.Pool({ connectionString: harness.db.url, max: 2, options: '-c search_path=core' });
    // Without a listener, an error on an idle connection (such as the database
    // being dropped under it) is rethrown by the pool as an uncaught exception.
    // Query errors still reach the query that failed.
    harness.pool.on('error', () => undefined);
    harness.pool.on('connect', (client) => harness.poolClients.add(client));
    harness.pool.on('remove', (client) => harness.poolClients.delete(client));
    const subscription = await harness.bus.consume(NODE_ID, async (message) => {
      const envelope = internalV1.PushEnvelope.decode(message.body);
      harness.received.push({ pushId: message.id, targets: envelope.targets, frame: envelope.frame! });
    });
    harness.closeNode = () => subscription.close();
    await harness.startCore();
    return harness;
  }

  async startCore(): Promise<void> {
    const config = loadCoreConfig({
      CORE_GRPC_PORT: '0',
      CORE_HTTP_PORT: '0',
      AUTH_ADDRESS: this.auth.address,
      CORE_OUTBOX_POLL_MS: String(this.options.pollMs ?? 200),
      LOG_LEVEL: 'silent',
      ...this.options.config,
    });
    const logger = this.options.captureLogs
      ? createLogger({ service: 'core-test', level: 'warn', destination: this.logSink() })
      : createLogger({ service: 'core-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    this.core = await startCoreService({
      config,
      logger,
      databaseUrl: this.db.url,
      presence: this.presence,
      bus: this.bus,
      blobs: this.options.blobs,
      tokenVerifier: this.options.tokenVerifier,
    });
  }

  /**
   * Stores a message and its outbox row the way another core instance would, in
   * one transaction, but without the NOTIFY (so no relay hears of it until it
   * polls). `outbox` backdates the send and defers the row's first attempt.
   * Returns the message id and seq.
   */
  async storeElsewhere(
    conversationId: string,
    senderId: string,
    content: Uint8Array,
    outbox: { committedSecondsAgo?: number; dueInSeconds?: number } = {},
  ): Promise<{ messageId: string; seq: number }> {
    const messageId = randomUUID();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ last_seq: number }>(
        'UPDATE core.conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq',
        [conversationId],
      );
      const seq = Number(rows[0]!.last_seq);
      await client.query(
        `INSERT INTO core.messages (id, conversation_id, seq, sender_id, sender_device_id, client_msg_id, content)
         VALUES ($1, $2, $3, $4, 'elsewhere-device', $5, $6)`,
        [messageId, conversationId, seq, senderId, randomUUID(), Buffer.from(content)],
      );
      await client.query(
        `INSERT INTO core.outbox (message_id, conversation_id, seq, created_at, next_attempt_at)
         VALUES ($1, $2, $3, now() - make_interval(secs => $4), now() + make_interval(secs => $5))`,
        [messageId, conversationId, seq, outbox.committedSecondsAgo ?? 0, outbox.dueInSeconds ?? 0],
      );
      await client.query('COMMIT');
      return { messageId, seq };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Core's /metrics text. */
  async scrape(): Promise<string> {
    return (await fetch(`http://${this.core.httpAddress}/metrics`)).text();
  }

  /** A MessageService client authenticated as this user's device. */
  messagesAs(userId: string, deviceId: string): MessageClient {
    return this.messagesWithToken(this.auth.token(userId, deviceId));
  }

  /** A MessageService client sending `accessToken`, however it was signed. */
  messagesWithToken(accessToken: string): MessageClient {
    const metadata = Metadata({ authorization: `Bearer ${accessToken}` });
    return createClient(messageV1.MessageServiceDefinition, this.channel(), { '*': { metadata } });
  }

  /** Metadata of a connect node's internal calls: its service account's token. */
  asConnectNode(): { metadata: ReturnType<typeof Metadata> } {
    return { metadata: Metadata({ authorization: `Bearer ${this.auth.serviceToken('connect-node', 'service')}` }) };
  }

  /** Core's internal DeliveryService, called as a connect node calls it (with a service token). */
  delivery(): Client<typeof internalV1.DeliveryServiceDefinition> {
    return createClient(internalV1.DeliveryServiceDefinition, this.channel(), { '*': this.asConnectNode() });
  }

  /** Registers a live route for the device on the fake node. */
  async online(userId: string, deviceId: string): Promise<DeviceRoute> {
    const route = { userId, deviceId, nodeId: NODE_ID, connectionId: `conn-${deviceId}`, epoch: ++this.epoch };
    await this.presence.register(route, 300);
    return route;
  }

  /** Frames pushed to one device, in arrival order. */
  framesFor(userId: string, deviceId: string): connectV1.ServerFrame[] {
    return this.received
      .filter((push) => push.targets.some((t) => t.userId === userId && t.deviceId === deviceId))
      .map((push) => push.frame);
  }

  messagesFor(userId: string, deviceId: string): messageV1.Message[] {
    return this.framesFor(userId, deviceId).flatMap((f) => (f.kind?.$case === 'message' ? [f.kind.value] : []));
  }

  receiptsFor(userId: string, deviceId: string): messageV1.Receipt[] {
    return this.framesFor(userId, deviceId).flatMap((f) => (f.kind?.$case === 'receipt' ? [f.kind.value] : []));
  }

  /** Rows in one of core's tables, optionally filtered (`where` is trusted test SQL). */
  async count(table: string, where = 'true', params: unknown[] = []): Promise<number> {
    const result = await this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM core.${table} WHERE ${where}`, params);
    return result.rows[0]!.n;
  }

  query<T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
    return this.pool.query<T>(text, params).then((r) => r.rows);
  }

  async close(): Promise<void> {
    for (const channel of this.channels) channel.close();
    await this.core?.stop();
    await this.closeNode?.();
    await this.bus.close();
    await this.presence.close();
    await this.auth?.close();
    await this.endPool();
    await this.db?.drop();
  }

  /**
   * pg-pool's end() resolves as soon as it has asked its idle connections to
   * close, not when they are closed. DROP DATABASE ... WITH (FORCE) right after
   * can then terminate one still open, whose "terminating connection due to
   * administrator command" arrives after the test ended. Wait for every socket.
   */
  private async endPool(): Promise<void> {
    if (!this.pool) return;
    const closed = new Promise<void>((resolve) => {
      const check = () => {
        if (this.poolClients.size === 0) resolve();
      };
      this.pool.on('remove', check);
      check();
    });
    await this.pool.end();
    await closed;
  }

  private logSink(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim()) this.logs.push(JSON.parse(line) as LogLine);
        }
        done();
      },
    });
  }

  private channel(): Channel {
    const channel = createChannel(this.core.grpcAddress);
    this.channels.push(channel);
    return channel;
  }
}

/** Polls `check` every 10 ms until it returns true; fails with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The value of one sample in Prometheus text, e.g.
 * `sample(text, 'core_push_publishes_total', { kind: 'message', outcome: 'failed' })`; 0 when absent.
 * The `service` label is implied.
 */
export function sample(metrics: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = { ...labels, service: 'core' };
  for (const line of metrics.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const keys = Object.keys(wanted);
    if (keys.length === Object.keys(found).length && keys.every((k) => found[k] === wanted[k as keyof typeof wanted])) {
      return Number(match[3]);
    }
  }
  return 0;
}

export function text(value: string, mentionUserIds: string[] = []): messageV1.MessageContent {
  return { body: { $case: 'text', value: { text: value, mentionUserIds } } };
}

/** SendMessage targets. */
export function toUser(userId: string): { $case: 'toUserId'; value: string } {
  return { $case: 'toUserId', value: userId };
}

export function inConversation(conversationId: string): { $case: 'conversationId'; value: string } {
  return { $case: 'conversationId', value: conversationId };
}
