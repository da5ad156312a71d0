// A device that speaks the WebSocket protocol by hand instead of through the SDK,
// for scenarios about clients that misbehave: it authenticates with a real
// access token (the `im.auth.<jwt>` subprotocol), records every message pushed to
// it, pings so the node never closes it as idle, and lets the scenario send any
// Ack it likes. What it does with the pushes is up to the scenario.
import { connectV1 } from '@im-mesh/contracts';
import { AuthClient } from '@im-mesh/sdk';
import { nodePlatform } from '@im-mesh/sdk/node';
import WebSocket from 'ws';
import { until } from './storm.js';

export interface RawPush {
  messageId: string;
  conversationId: string;
  seq: number;
}

export class RawDevice {
  readonly pushes: RawPush[] = [];
  readonly errors: Array<{ code: number; reason: string }> = [];
  authenticated: connectV1.Authenticated | undefined;
  closed: { code: number; reason: string } | undefined;
  private readonly ping: NodeJS.Timeout;
  private ended = false;

  private constructor(
    readonly auth: AuthClient,
    readonly socket: WebSocket,
  ) {
    socket.binaryType = 'arraybuffer';
    socket.on('message', (data: ArrayBuffer) => {
      const frame = connectV1.ServerFrame.decode(new Uint8Array(data));
      const kind = frame.kind;
      if (kind?.$case === 'authenticated') this.authenticated = kind.value;
      if (kind?.$case === 'message') this.pushes.push({ messageId: kind.value.messageId, conversationId: kind.value.conversationId, seq: kind.value.seq });
      if (kind?.$case === 'error') this.errors.push({ code: kind.value.code, reason: kind.value.reason });
    });
    socket.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    // A socket error ends in 'close' as well; without a listener it would crash the test process.
    socket.on('error', () => undefined);
    this.ping = setInterval(() => this.send({ kind: { $case: 'ping', value: { clientTimeMs: Date.now() } } }), 1_000);
  }

  /** Logs `deviceId` of the user in through the edge and opens its WebSocket at `webSocketUrl`; resolves once authenticated. */
  static async open(edgeUrl: string, webSocketUrl: string, user: { name: string; password: string }, deviceId: string): Promise<RawDevice> {
    const auth = new AuthClient({ baseUrl: edgeUrl, platform: nodePlatform, rpc: 'grpc' });
    await auth.login(user.name, user.password, deviceId, 'fault-test');
    const socket = new WebSocket(webSocketUrl, ['im.v1', `im.auth.${await auth.getAccessToken()}`], { perMessageDeflate: false });
    const device = new RawDevice(auth, socket);
    try {
      await until(`${deviceId} to be authenticated`, () => device.authenticated !== undefined || device.closed !== undefined, 10_000);
      if (!device.authenticated) throw new Error(`${deviceId} was not authenticated: ${JSON.stringify(device.closed)}`);
    } catch (error) {
      device.close();
      throw error;
    }
    return device;
  }

  /** Sends one ClientFrame if the socket is open; false when it is not. */
  send(frame: connectV1.ClientFrame): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(connectV1.ClientFrame.encode(frame).finish());
    return true;
  }

  sendAck(messageIds: string[], delivered: connectV1.DeliveredUpTo[] = []): boolean {
    return this.send({ kind: { $case: 'ack', value: { messageIds, delivered } } });
  }

  /** The highest seq pushed to this device in each conversation. */
  highestPushed(): Map<string, number> {
    const highest = new Map<string, number>();
    for (const push of this.pushes) highest.set(push.conversationId, Math.max(highest.get(push.conversationId) ?? 0, push.seq));
    return highest;
  }

  /** Cuts the socket and ends the login's channel; once. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.ping);
    this.socket.terminate();
    this.auth.close();
  }
}
