// Runs a real core for a test file: a fresh PostgreSQL database, the auth test
// double, in-process presence and push bus, real gRPC clients, and a fake
// connect node that records every envelope the bus hands it.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createChannel, createClient, Metadata, type Channel, type Client } from 'nice-grpc';
import { connectV1, internalV1, messageV1 } from '@im-mesh/contracts';
import {
  createLogger,
  MemoryPresenceRegistry,
  MemoryPushBus,
  type DeviceRoute,
  type PushBus,
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
}

export class CoreHarness {
  /** Registered users the directory knows. */
  readonly alice = randomUUID();
  readonly bob = randomUUID();
  readonly carol = randomUUID();
  /** Well-formed but never registered. */
  readonly stranger = randomUUID();
  readonly received: ReceivedPush[] = [];
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
    });
    const logger = createLogger({ service: 'core-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    this.core = await startCoreService({ config, logger, databaseUrl: this.db.url, presence: this.presence, bus: this.bus });
  }

  /** A MessageService client authenticated as this user's device. */
  messagesAs(userId: string, deviceId: string): MessageClient {
    const metadata = Metadata({ authorization: `Bearer ${this.auth.token(userId, deviceId)}` });
    return createClient(messageV1.MessageServiceDefinition, this.channel(), { '*': { metadata } });
  }

  delivery(): Client<typeof internalV1.DeliveryServiceDefinition> {
    return createClient(internalV1.DeliveryServiceDefinition, this.channel());
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
