// Test harness: a real connect node on free ports, wired to the auth/core test
// double, the in-process presence registry (recording calls) and push bus, plus
// clients for every transport: WebSocket, gRPC Connect and gRPC Subscribe.
import { connectV1, internalV1, messageV1 } from '@im-mesh/contracts';
import {
  createLogger,
  MemoryPresenceRegistry,
  MemoryPushBus,
  uuidv7,
  type ConfigSource,
  type DeviceRoute,
  type LiveSettingsSource,
} from '@im-mesh/platform';
import { createChannel, createClient, Metadata, type Channel, type Client } from 'nice-grpc';
import { loadConnectConfig, startConnectService, type RunningConnectService } from '../../src/index.js';
import { startAuthAndCoreDouble, TEST_AUDIENCE, TEST_ISSUER, type AuthAndCoreDouble } from './auth-and-core-double.js';
import { FrameReader } from './frame-reader.js';
import { openSocket, type TestSocket } from './test-socket.js';

/** The in-process presence registry, recording every call for assertions. */
export class RecordingPresence extends MemoryPresenceRegistry {
  readonly calls: Array<{ op: 'register' | 'refresh' | 'unregister'; connectionId: string }> = [];

  override async register(route: DeviceRoute, ttlSeconds: number): Promise<boolean> {
    this.calls.push({ op: 'register', connectionId: route.connectionId });
    return super.register(route, ttlSeconds);
  }
  override async refresh(userId: string, deviceId: string, connectionId: string, ttlSeconds: number): Promise<boolean> {
    this.calls.push({ op: 'refresh', connectionId });
    return super.refresh(userId, deviceId, connectionId, ttlSeconds);
  }
  override async unregister(userId: string, deviceId: string, connectionId: string): Promise<void> {
    this.calls.push({ op: 'unregister', connectionId });
    return super.unregister(userId, deviceId, connectionId);
  }

  /** The live route of one device, if any. */
  async routeOf(userId: string, deviceId: string): Promise<DeviceRoute | undefined> {
    const routes = (await this.routesOf([userId])).get(userId) ?? [];
    return routes.find((route) => route.deviceId === deviceId);
  }
}

export interface Harness {
  double: AuthAndCoreDouble;
  presence: RecordingPresence;
  bus: MemoryPushBus;
  service: RunningConnectService;
  /** host:port of the HTTP server holding /ws. */
  httpAddress: string;
  client: Client<typeof connectV1.ConnectServiceDefinition>;
  token(userId: string, deviceId: string): string;
  /** Publishes a push envelope to this node as core's outbox relay would. */
  publish(targets: internalV1.PushTarget[], frame: connectV1.ServerFrame, pushId?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** A presence registry double to use instead of a plain RecordingPresence. */
  presence?: RecordingPresence;
  /**
   * A push bus shared with other harnesses, to run several nodes in one process.
   * The harness leaves a shared bus open on stop; its owner closes it.
   */
  bus?: MemoryPushBus;
  /** Live settings the node follows (an in-process source by default). */
  settings?: LiveSettingsSource;
}

export async function startHarness(overrides: ConfigSource = {}, options: HarnessOptions = {}): Promise<Harness> {
  const double = await startAuthAndCoreDouble();
  const presence = options.presence ?? new RecordingPresence();
  const bus = options.bus ?? new MemoryPushBus();
  const config = loadConnectConfig({
    CONNECT_GRPC_PORT: '0',
    CONNECT_HTTP_PORT: '0',
    CONNECT_NODE_ID: `test-node-${uuidv7().slice(-12)}`,
    AUTH_ADDRESS: double.address,
    CORE_ADDRESS: double.address,
    JWT_ISSUER: TEST_ISSUER,
    JWT_AUDIENCE: TEST_AUDIENCE,
    CONNECT_HEARTBEAT_INTERVAL_MS: '1000',
    CONNECT_AUTH_TIMEOUT_MS: '1000',
    CONNECT_ACK_FLUSH_MS: '50',
    CONNECT_DRAIN_GRACE_MS: '500',
    ...overrides,
  });
  const logger = createLogger({ service: 'connect-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const service = await startConnectService({ config, logger, presence, bus, settings: options.settings });
  const channel: Channel = createChannel(service.grpcAddress);
  const client = createClient(connectV1.ConnectServiceDefinition, channel);
  let stopped = false;
  return {
    double,
    presence,
    bus,
    service,
    httpAddress: service.httpAddress,
    client,
    token: (userId, deviceId) => double.token({ userId, deviceId }),
    async publish(targets, frame, pushId = uuidv7()) {
      const body = internalV1.PushEnvelope.encode({ targets, frame, forwardedAck: undefined, revocation: undefined }).finish();
      const outcome = await bus.publish(service.nodeId, { id: pushId, body });
      if (outcome !== 'delivered') throw new Error(`push to ${service.nodeId} was ${outcome}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await service.stop();
      channel.close();
      await double.close();
      await presence.close();
      if (!options.bus) await bus.close();
    },
  };
}

/** A text message frame as core would push it. */
export function messageFrame(conversationId: string, seq: number, messageId = uuidv7()): connectV1.ServerFrame {
  return {
    kind: {
      $case: 'message',
      value: messageV1.Message.fromPartial({
        messageId,
        conversationId,
        seq,
        senderId: 'user-sender',
        senderDeviceId: 'device-sender',
        clientMsgId: `client-${messageId}`,
        content: { body: { $case: 'text', value: { text: `message ${seq}`, mentionUserIds: [] } } },
        sentAt: new Date(),
      }),
    },
  };
}

/** A WebSocket authenticated through the token subprotocol, past its Authenticated frame. */
export async function authenticatedSocket(
  harness: Harness,
  userId: string,
  deviceId: string,
): Promise<{ socket: TestSocket; authenticated: connectV1.Authenticated }> {
  const socket = await openSocket(harness.httpAddress, { protocols: ['im.v1', `im.auth.${harness.token(userId, deviceId)}`] });
  const authenticated = await socket.frames.expect('authenticated');
  return { socket, authenticated };
}

/** An AsyncIterable the test writes to: the request side of a bidi call. */
export class RequestQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

export interface ConnectCall {
  frames: FrameReader;
  send(frame: connectV1.ClientFrame): void;
  /** Cancels the call from the client side. */
  cancel(): void;
}

/** Opens a gRPC Connect stream; with a token, sends the auth frame first. */
export function openConnect(harness: Harness, token?: string): ConnectCall {
  const requests = new RequestQueue<connectV1.ConnectRequest>();
  const abort = new AbortController();
  if (token) requests.push({ frame: { kind: { $case: 'auth', value: { accessToken: token } } } });
  const responses = harness.client.connect(requests, { signal: abort.signal });
  return {
    frames: new FrameReader(mapFrames(responses)),
    send: (frame) => requests.push({ frame }),
    cancel: () => abort.abort(),
  };
}

/** Opens a gRPC Subscribe stream with the token in the authorization metadata. */
export function openSubscribe(harness: Harness, token: string): ConnectCall {
  const abort = new AbortController();
  const responses = harness.client.subscribe({}, { metadata: Metadata({ authorization: `Bearer ${token}` }), signal: abort.signal });
  return {
    frames: new FrameReader(mapFrames(responses)),
    send: () => {
      throw new Error('Subscribe has no client-to-server direction; use the Ack RPC');
    },
    cancel: () => abort.abort(),
  };
}

async function* mapFrames(responses: AsyncIterable<{ frame?: connectV1.ServerFrame | undefined }>) {
  for await (const response of responses) yield response.frame;
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 2_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
