// The distributed mode for real: auth, two core instances, three connect nodes
// and an edge, each its own process, sharing PostgreSQL, Redis (presence, nonces,
// limits) and RabbitMQ (pushes). Users on different connect nodes chat, and a
// user with three devices on three nodes gets every message on every device.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuthClient, ImClient } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import { createTestDatabase, FREE_PORTS, type TestDatabase } from '@im-mesh/platform/testing';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';

interface Device {
  client: ImClient;
  texts: string[];
}

describe('several processes of each service on real PostgreSQL, Redis and RabbitMQ', () => {
  let database: TestDatabase;
  const processes: ServiceProcess[] = [];
  let edgeUrl = '';
  let connectNodes: ServiceProcess[] = [];
  const run = randomBytes(3).toString('hex');

  before(async () => {
    database = await createTestDatabase('multinode');
    const shared = {
      DATABASE_URL: database.url,
      PRESENCE: 'redis',
      BUS: 'rabbitmq',
      LIMITS: 'redis',
      ...FREE_PORTS,
    };
    const auth = await startServiceProcess('auth', shared);
    processes.push(auth);
    const withAuth = { ...shared, AUTH_ADDRESS: auth.grpcAddress };
    const cores = await Promise.all([
      startServiceProcess('core', withAuth, 'core-1'),
      startServiceProcess('core', withAuth, 'core-2'),
    ]);
    processes.push(...cores);
    connectNodes = await Promise.all(
      [0, 1, 2].map((i) =>
        startServiceProcess(
          'connect',
          { ...withAuth, CORE_ADDRESS: cores[i % 2]!.grpcAddress, CONNECT_NODE_ID: `test-${run}-node-${i + 1}` },
          `connect-${i + 1}`,
        ),
      ),
    );
    processes.push(...connectNodes);
    const edge = await startServiceProcess('edge', {
      ...withAuth,
      CORE_ADDRESS: cores[1]!.grpcAddress,
      CONNECT_ADDRESS: connectNodes[0]!.grpcAddress,
      CONNECT_WS_ADDRESS: connectNodes[0]!.httpAddress,
    });
    processes.push(edge);
    edgeUrl = `http://${edge.grpcAddress}`;
  });

  after(async () => {
    const codes = await Promise.all(processes.reverse().map((p) => p.stop()));
    await database?.drop();
    assert.deepEqual(codes, codes.map(() => 0), 'every process shut down cleanly on SIGTERM');
  });

  async function user(name: string): Promise<{ username: string; password: string; userId: string }> {
    const username = `${name}_${run}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const auth = new AuthClient({ baseUrl: edgeUrl, platform: nodePlatform, rpc: 'grpc' });
    const userId = await auth.register(username, password, `${name}-setup`);
    return { username, password, userId };
  }

  /** Logs a device in through the edge and connects it straight to one connect node's WebSocket. */
  async function device(account: { username: string; password: string; userId: string }, deviceId: string, node: ServiceProcess): Promise<Device> {
    const auth = new AuthClient({ baseUrl: edgeUrl, platform: nodePlatform, rpc: 'grpc' });
    await auth.login(account.username, account.password, deviceId, 'node-test');
    const client = new ImClient({
      baseUrl: edgeUrl,
      webSocketUrl: `ws://${node.httpAddress}/ws`,
      tokens: auth,
      transport: 'websocket',
      platform: nodePlatform,
    });
    const result: Device = { client, texts: [] };
    client.onMessage((message) => {
      const body = message.content?.body;
      if (body?.$case === 'text') result.texts.push(body.value.text);
    });
    await client.connect();
    return result;
  }

  async function until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  test('a user with three devices on three nodes gets every message on every device, in order, once', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const aliceLaptop = await device(alice, 'alice-laptop', connectNodes[0]!);
    const bobDevices = await Promise.all([0, 1, 2].map((i) => device(bob, `bob-device-${i + 1}`, connectNodes[i]!)));

    const expected = Array.from({ length: 100 }, (_, i) => `to bob ${i}`);
    for (const text of expected) await aliceLaptop.client.sendText({ toUserId: bob.userId }, text);
    for (const [i, bobDevice] of bobDevices.entries()) {
      await until(`bob-device-${i + 1} to get 100 messages`, () => bobDevice.texts.length >= 100);
    }
    await sleep(300); // A duplicate would arrive within this window.
    for (const [i, bobDevice] of bobDevices.entries()) {
      assert.deepEqual(bobDevice.texts, expected, `bob-device-${i + 1} shows each message once, in order`);
    }

    // Bob answers from the device on node 2: Alice on node 1 gets it, and so do Bob's
    // other devices (multi-device sync), but not the device that sent it.
    await bobDevices[1]!.client.sendText({ toUserId: alice.userId }, 'hello from node 2');
    await until('alice to get the reply', () => aliceLaptop.texts.includes('hello from node 2'));
    await until('bob-device-1 and 3 to see the reply', () =>
      [0, 2].every((i) => bobDevices[i]!.texts.includes('hello from node 2')),
    );

    await Promise.all([aliceLaptop, ...bobDevices].map((d) => d.client.close()));
  });
});
