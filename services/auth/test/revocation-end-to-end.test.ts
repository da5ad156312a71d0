// End to end: the real auth service and a real connect node share presence and
// the push bus (as in the all-in-one); a user's WebSocket connection closes
// within seconds of logout, a ban, or a replayed refresh token, and the token of
// an ended session cannot connect again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadConnectConfig, startConnectService, type RunningConnectService } from '@im-mesh/connect';
import { connectV1 } from '@im-mesh/contracts';
import {
  createLogger,
  MemoryEphemeralStore,
  MemoryPresenceRegistry,
  MemoryPushBus,
  MemoryRateLimiter,
  openChannel,
  createServiceClient,
  type RunningService,
} from '@im-mesh/platform';
import { createTestDatabase, type TestDatabase } from '@im-mesh/platform/testing';
import { authV1, adminV1 } from '@im-mesh/contracts';
import WebSocket from 'ws';
import { loadAuthConfig, startAuthService } from '../src/index.js';
import { bearer, login, register } from './auth-harness.js';

const PASSWORD = 'connections end with sessions';
const ADMIN_SECRET = 'end-to-end-admin-secret-0123456789abcdef';
const CONNECT_SECRET = 'end-to-end-connect-node-secret-0123456789';

/** A WebSocket client that records every ServerFrame and how the socket closed. */
async function connectSocket(httpAddress: string, accessToken: string) {
  const ws = new WebSocket(`ws://${httpAddress}/ws`, ['im.v1', `im.auth.${accessToken}`], { perMessageDeflate: false });
  const frames: connectV1.ServerFrame[] = [];
  ws.on('message', (data: Buffer) => frames.push(connectV1.ServerFrame.decode(data)));
  const closed = new Promise<{ code: number; at: number }>((resolve) => ws.on('close', (code) => resolve({ code, at: Date.now() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waitFor = async (kind: string, timeoutMs = 5_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = frames.find((f) => f.kind?.$case === kind);
      if (frame) return frame.kind!.value as never;
      if (Date.now() > deadline) throw new Error(`no ${kind} frame within ${timeoutMs} ms; got ${frames.map((f) => f.kind?.$case).join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { ws, frames, closed, waitFor };
}

describe('ended sessions close live connections, end to end', () => {
  let db: TestDatabase;
  let auth: RunningService;
  let connect: RunningConnectService;
  const presence = new MemoryPresenceRegistry();
  const bus = new MemoryPushBus();
  const nonces = new MemoryEphemeralStore();
  const rateLimiter = new MemoryRateLimiter();
  let channel: ReturnType<typeof openChannel>;
  let client: ReturnType<typeof createServiceClient<typeof authV1.AuthServiceDefinition>>;
  let sessions: ReturnType<typeof createServiceClient<typeof authV1.SessionServiceDefinition>>;
  let tokens: ReturnType<typeof createServiceClient<typeof adminV1.ServiceTokenServiceDefinition>>;
  let admin: ReturnType<typeof createServiceClient<typeof adminV1.UserAdminServiceDefinition>>;

  before(async () => {
    db = await createTestDatabase('auth_revocation_e2e');
    const logger = createLogger({ service: 'e2e', level: 'silent' });
    auth = await startAuthService({
      config: loadAuthConfig({
        AUTH_GRPC_PORT: '0',
        AUTH_HTTP_PORT: '0',
        AUTH_KEY_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
        // An admin for the test's own calls, and the account the connect node asks auth with.
        AUTH_SERVICE_ACCOUNTS: `ops:admin:${ADMIN_SECRET},connect-node:service:${CONNECT_SECRET}`,
        AUTH_REFRESH_REUSE_GRACE_SECONDS: '0',
      }),
      logger,
      databaseUrl: db.url,
      nonces,
      rateLimiter,
      revocations: { presence, bus },
    });
    connect = await startConnectService({
      config: loadConnectConfig({
        CONNECT_GRPC_PORT: '0',
        CONNECT_HTTP_PORT: '0',
        CONNECT_NODE_ID: 'e2e-node',
        AUTH_ADDRESS: auth.grpcAddress,
        // Nothing here acks, so core is never called.
        CORE_ADDRESS: '127.0.0.1:1',
        CONNECT_HEARTBEAT_INTERVAL_MS: '5000',
        SERVICE_CLIENT_ID: 'connect-node',
        SERVICE_CLIENT_SECRET: CONNECT_SECRET,
      }),
      logger,
      presence,
      bus,
    });
    channel = openChannel(auth.grpcAddress);
    client = createServiceClient(authV1.AuthServiceDefinition, channel.channel);
    sessions = createServiceClient(authV1.SessionServiceDefinition, channel.channel);
    tokens = createServiceClient(adminV1.ServiceTokenServiceDefinition, channel.channel);
    admin = createServiceClient(adminV1.UserAdminServiceDefinition, channel.channel);
    await register(client, 'wanda', PASSWORD);
  });

  after(async () => {
    channel?.close();
    await connect?.stop();
    await auth?.stop();
    await Promise.all([presence.close(), bus.close(), nonces.close(), rateLimiter.close()]);
    await db?.drop();
  });

  test('logout closes the device connection within seconds with a final GoAway; the token cannot connect again', async () => {
    const phone = await login(client, 'wanda', PASSWORD, 'phone');
    const laptop = await login(client, 'wanda', PASSWORD, 'laptop');
    const phoneSocket = await connectSocket(connect.httpAddress, phone.tokens!.accessToken);
    const laptopSocket = await connectSocket(connect.httpAddress, laptop.tokens!.accessToken);
    await phoneSocket.waitFor('authenticated');
    await laptopSocket.waitFor('authenticated');

    const loggedOutAt = Date.now();
    await client.logout({}, bearer(phone.tokens!.accessToken));
    const goAway = (await phoneSocket.waitFor('goAway')) as connectV1.GoAway;
    assert.deepEqual([goAway.reconnect, goAway.reason], [false, 'logged out']);
    const { code, at } = await phoneSocket.closed;
    assert.equal(code, 1008);
    console.log(`# connection closed ${at - loggedOutAt} ms after Logout returned`);
    assert.ok(at - loggedOutAt < 5_000, 'the connection outlived its session by more than a few seconds');
    assert.equal(laptopSocket.ws.readyState, WebSocket.OPEN, 'another device of the user was closed');

    // The access token is still validly signed, but its session is over.
    const again = await connectSocket(connect.httpAddress, phone.tokens!.accessToken);
    const refusal = (await again.waitFor('error')) as { code: number; reason: string };
    assert.equal(refusal.reason, 'SESSION_REVOKED');
    await again.closed;
    laptopSocket.ws.close();
    await laptopSocket.closed;
  });

  test('revoking a session from another device, and a replayed refresh token, each close the connection', async () => {
    const tablet = await login(client, 'wanda', PASSWORD, 'tablet');
    const desk = await login(client, 'wanda', PASSWORD, 'desk');
    const tabletSocket = await connectSocket(connect.httpAddress, tablet.tokens!.accessToken);
    await tabletSocket.waitFor('authenticated');
    await sessions.revokeSession({ sessionId: tablet.sessionId }, bearer(desk.tokens!.accessToken));
    assert.equal(((await tabletSocket.waitFor('goAway')) as connectV1.GoAway).reconnect, false);
    await tabletSocket.closed;

    const deskSocket = await connectSocket(connect.httpAddress, desk.tokens!.accessToken);
    await deskSocket.waitFor('authenticated');
    await client.refreshToken({ refreshToken: desk.tokens!.refreshToken });
    // The rotated token comes back (grace is off here): a thief has a copy.
    await assert.rejects(client.refreshToken({ refreshToken: desk.tokens!.refreshToken }));
    const goAway = (await deskSocket.waitFor('goAway')) as connectV1.GoAway;
    assert.deepEqual([goAway.reconnect, goAway.reason], [false, 'refresh token reused']);
    await deskSocket.closed;
  });

  test('a ban closes every connection of the user as PERMISSION_DENIED, and a new one is refused with the reason', async () => {
    const { serviceToken } = await tokens.issueServiceToken({ clientId: 'ops', clientSecret: ADMIN_SECRET });
    const { userId } = await register(client, 'vlad', PASSWORD);
    const one = await login(client, 'vlad', PASSWORD, 'one');
    const two = await login(client, 'vlad', PASSWORD, 'two');
    const sockets = await Promise.all([one, two].map((s) => connectSocket(connect.httpAddress, s.tokens!.accessToken)));
    for (const socket of sockets) await socket.waitFor('authenticated');

    await admin.banUser({ userId, reason: 'fraud' }, bearer(serviceToken));
    for (const socket of sockets) {
      assert.equal(((await socket.waitFor('goAway')) as connectV1.GoAway).reconnect, false);
      assert.equal((await socket.closed).code, 1008);
    }
    const again = await connectSocket(connect.httpAddress, one.tokens!.accessToken);
    const refusal = (await again.waitFor('error')) as { code: number; reason: string; message: string };
    assert.equal(refusal.reason, 'ACCOUNT_BANNED');
    assert.match(refusal.message, /fraud/);
    await again.closed;
  });
});
