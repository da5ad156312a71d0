// Starts the all-in-one on free ports against a fresh database on the local
// PostgreSQL, and gives tests logged-in users with SDK clients. Every log line is
// kept so tests can assert that no secret reached the logs.
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { AuthClient, ImClient, MemorySyncStateStore, type SyncStateStore } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import { createTestDatabase, FREE_PORTS, type TestDatabase } from '@im-mesh/platform/testing';
import { startAllInOne, type AllInOne } from '../../src/all-in-one.js';

export type Transport = 'grpc' | 'grpc-web' | 'websocket';

export interface TestMesh {
  mesh: AllInOne;
  url: string;
  db: pg.Pool;
  logs: () => string;
  stop(): Promise<void>;
}

export async function startTestMesh(label: string, extra: Record<string, string> = {}): Promise<TestMesh> {
  const database: TestDatabase = await createTestDatabase(label);
  const sink = new PassThrough();
  let logText = '';
  sink.on('data', (chunk: Buffer) => (logText += chunk.toString('utf8')));
  const mesh = await startAllInOne(
    { ...FREE_PORTS, DATABASE_URL: database.url, LOG_LEVEL: 'info', ...extra },
    { logDestination: sink },
  );
  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  // Dropping the database (WITH FORCE) may kill a connection still closing after
  // end(); without a listener its error would crash the test process.
  db.on('error', () => undefined);
  return {
    mesh,
    url: mesh.url,
    db,
    logs: () => logText,
    async stop() {
      await db.end();
      await mesh.stop();
      await database.drop();
    },
  };
}

export interface TestUser {
  username: string;
  password: string;
  userId: string;
  auth: AuthClient;
}

/** Registers and logs in a user on one device; names are unique per call. */
export async function newUser(url: string, name: string, deviceId = `${name}-device`): Promise<TestUser> {
  const username = `${name}_${randomBytes(3).toString('hex')}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const auth = new AuthClient({ baseUrl: url, platform: nodePlatform, rpc: 'grpc' });
  await auth.register(username, password, deviceId);
  const session = await auth.login(username, password, deviceId, 'node-test');
  return { username, password, userId: session.userId, auth };
}

export interface Inbox {
  client: ImClient;
  /** Messages from other users, in the order the client applied them. */
  received: Array<{ id: string; seq: number; text: string; senderId: string }>;
  receipts: Array<{ userId: string; kind: number; seq: number }>;
}

export async function openClient(
  url: string,
  user: TestUser,
  transport: Transport,
  syncState: SyncStateStore = new MemorySyncStateStore(),
): Promise<Inbox> {
  const client = new ImClient({ baseUrl: url, tokens: user.auth, transport, platform: nodePlatform, syncState });
  const inbox: Inbox = { client, received: [], receipts: [] };
  client.onMessage((message) => {
    if (message.senderId === user.userId) return;
    const body = message.content?.body;
    inbox.received.push({
      id: message.messageId,
      seq: message.seq,
      text: body?.$case === 'text' ? body.value.text : `<${body?.$case ?? 'empty'}>`,
      senderId: message.senderId,
    });
  });
  client.onReceipt((receipt) => inbox.receipts.push({ userId: receipt.userId, kind: receipt.kind, seq: receipt.seq }));
  await client.connect();
  return inbox;
}

/** Polls until `done()` holds, failing with `describe()` after `timeoutMs`. */
export async function waitFor(done: () => boolean, describe: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await sleep(20);
  }
}
