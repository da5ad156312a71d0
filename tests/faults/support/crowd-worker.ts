// One child process of a crowd (crowd.ts): it registers its share of users, logs
// in their devices, and runs one SDK ImClient per device with the WebSocket
// transport through the edge, exactly as an app would, except that all of this
// process's clients share one unary channel (HTTP/2 multiplexes them) and their
// sockets leave from one loopback source address (127.0.0.2-127.0.0.9), so no
// process nears its 20,000 open files and no address nears the edge's
// per-address connection cap. It reports every message each device shows, with
// the time, to its parent over IPC.
import { AuthClient, ImClient, openRpcChannel, type RpcChannel, type SdkPlatform } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import WebSocket from 'ws';
import type { CrowdCommand, CrowdEvent, CrowdShown } from './crowd.js';

const sourceAddress = process.env.CROWD_SOURCE_ADDRESS ?? '127.0.0.1';

/** `ws` leaving from this process's source address. */
class SourcedWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { perMessageDeflate: false, localAddress: sourceAddress });
  }
}

const platform: SdkPlatform = { ...nodePlatform, WebSocket: SourcedWebSocket as unknown as SdkPlatform['WebSocket'] };

interface CrowdDevice {
  name: string;
  client: ImClient;
  drops: number;
}

const devices: CrowdDevice[] = [];
let channel: RpcChannel | undefined;
let shownBatch: CrowdShown[] = [];
const flushTimer = setInterval(flushShown, 200);

function emit(event: CrowdEvent): void {
  process.send?.(event);
}

function flushShown(): void {
  if (shownBatch.length === 0) return;
  emit({ type: 'shown', items: shownBatch });
  shownBatch = [];
}

/** Runs `work` over `items` with at most `limit` at once. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        await work(item);
      }
    }),
  );
}

async function start(command: Extract<CrowdCommand, { type: 'start' }>): Promise<void> {
  const rpc = openRpcChannel(command.edgeUrl, 'grpc', nodePlatform);
  channel = rpc;
  const users: Array<{ name: string; userId: string }> = [];
  await inParallel(command.users, command.parallelLogins, async (user) => {
    const registrar = new AuthClient({ channel: rpc });
    users.push({ name: user.name, userId: await registrar.register(user.name, user.password, `${user.name}-setup`) });
  });
  const userIds = new Map(users.map((user) => [user.name, user.userId]));
  const logins = command.users.flatMap((user) => Array.from({ length: command.devicesPerUser }, (_, d) => ({ user, name: `${user.name}-d${d}` })));
  await inParallel(logins, command.parallelLogins, async ({ user, name }) => {
    const auth = new AuthClient({ channel: rpc });
    await auth.login(user.name, user.password, name, 'crowd');
    const client = new ImClient({
      tokens: auth,
      transport: 'websocket',
      baseUrl: command.edgeUrl,
      platform,
      channel: rpc,
      call: { timeoutMs: 10_000, attempts: 6, retryDelayMs: 500 },
      // The SDK's own jittered backoff (250 ms doubling to 10 s by default) unless the scenario says otherwise.
      ...(command.reconnect ? { reconnect: command.reconnect } : {}),
    });
    const device: CrowdDevice = { name, client, drops: 0 };
    client.onMessage((message) => {
      shownBatch.push({
        device: name,
        messageId: message.messageId,
        conversationId: message.conversationId,
        seq: message.seq,
        senderId: message.senderId,
        clientMsgId: message.clientMsgId,
        at: Date.now(),
      });
    });
    client.onStateChange((state) => {
      if (state === 'reconnecting') device.drops += 1;
    });
    devices.push(device);
  });
  emit({ type: 'logged-in', users, devices: devices.map((device) => ({ name: device.name, userId: userIds.get(device.name.slice(0, device.name.lastIndexOf('-d')))! })) });
  await inParallel(devices, command.parallelConnects, (device) => connectWithRetries(device.client));
  emit({ type: 'connected' });
}

/**
 * connect() rejects when its first attempt fails (reconnecting is automatic only
 * after that), so, as an app would, try again a few times: with thousands of
 * devices logging on at once a busy node may take longer than the SDK's
 * authentication deadline.
 */
async function connectWithRetries(client: ImClient, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await client.connect();
      return;
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
    }
  }
}

function report(): void {
  const connected = devices.filter((device) => device.client.state === 'connected').length;
  emit({ type: 'status', connected, total: devices.length, drops: devices.reduce((sum, device) => sum + device.drops, 0) });
}

async function close(): Promise<void> {
  flushShown();
  await Promise.all(devices.map((device) => device.client.close(300)));
  channel?.close();
  clearInterval(flushTimer);
  emit({ type: 'closed' });
}

process.on('message', (command: CrowdCommand) => {
  const run = command.type === 'start' ? start(command) : command.type === 'status' ? Promise.resolve(report()) : close();
  run.catch((error: unknown) => emit({ type: 'failed', message: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) }));
});
// The parent going away ends the crowd too.
process.on('disconnect', () => process.exit(0));
