// A small in-memory stand-in for edge + core + connect, for testing the SDK
// before (and apart from) the real services: MessageService and ConnectService
// over native gRPC and over grpc-web (a minimal bridge), and the WebSocket endpoint. Tokens are "user.<userId>.<deviceId>".
// Pushes can be dropped, doubled or delayed to exercise the client's recovery.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connectV1, messageV1 } from '@im-mesh/contracts';
import { createServer, Metadata, ServerError, Status, type CallContext, type Server } from 'nice-grpc';
import { WebSocketServer } from 'ws';
import { AsyncQueue } from '../../src/async-queue.js';
import { startGrpcWebBridge, type GrpcWebBridge } from './grpc-web-bridge.js';

type Frame = connectV1.ServerFrame;

/** What happens to one push: sent, lost, sent twice, or held back until the next push overtakes it. */
export type PushFate = 'send' | 'drop' | 'twice' | 'late';

interface Caller {
  userId: string;
  deviceId: string;
}

interface FakeConnection extends Caller {
  readonly connectionId: string;
  readonly late: Frame[];
  send(frame: Frame): void;
  /** Ends the connection; with `abrupt` as a network failure. */
  end(abrupt: boolean): void;
}

export interface DeviceAcks {
  readonly ids: Set<string>;
  readonly delivered: Map<string, number>;
}

export function tokenOf(userId: string, deviceId: string): string {
  return `user.${userId}.${deviceId}`;
}

function parseToken(token: string | undefined): Caller {
  const match = /^user\.([^.]+)\.([^.]+)$/.exec(token ?? '');
  if (match === null) throw new ServerError(Status.UNAUTHENTICATED, 'A valid access token is required.');
  return { userId: match[1] as string, deviceId: match[2] as string };
}

function callerOf(metadata: Metadata): Caller {
  return parseToken(metadata.get('authorization')?.replace(/^Bearer /, ''));
}

export class FakeImBackend {
  /** Decides the fate of each push; default: every push is sent once. */
  pushFate: (message: messageV1.Message) => PushFate = () => 'send';
  /** The next N SendMessage calls store the message and then answer UNAVAILABLE, like a lost reply. */
  failSendReplies = 0;
  /** SyncConversations page size, small so clients must follow page tokens. */
  pageSize = 2;
  heartbeatIntervalMs = 200;
  /** Every Ack received, per "userId/deviceId". */
  readonly acks = new Map<string, DeviceAcks>();
  sendCalls = 0;

  private readonly conversations = new Map<string, { members: string[]; messages: messageV1.Message[] }>();
  private readonly replies = new Map<string, messageV1.SendMessageResponse>();
  private readonly connections = new Set<FakeConnection>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private grpcWeb: GrpcWebBridge | undefined;

  readonly messageService = {
    // Methods this fake does not model answer UNIMPLEMENTED.
    ...(Object.fromEntries(
      Object.keys(messageV1.MessageServiceDefinition.methods).map((name) => [
        name,
        async (): Promise<never> => {
          throw new ServerError(Status.UNIMPLEMENTED, 'Not modelled by the fake backend.');
        },
      ]),
    ) as unknown as messageV1.MessageServiceImplementation),
    sendMessage: async (request: messageV1.SendMessageRequest, context: CallContext) =>
      this.sendMessage(callerOf(context.metadata), request),
    syncConversations: async (request: messageV1.SyncConversationsRequest, context: CallContext) => {
      const caller = callerOf(context.metadata);
      const mine = [...this.conversations].filter(([, c]) => c.members.includes(caller.userId));
      const offset = Number(request.pageToken || '0');
      const page = mine.slice(offset, offset + this.pageSize).map(([conversationId, c]) => ({
        ...messageV1.ConversationState.fromPartial({ conversationId, type: 1 }),
        peerUserId: c.members.find((m) => m !== caller.userId) ?? '',
        lastSeq: c.messages.length,
        deliveredSeq: this.acks.get(`${caller.userId}/${caller.deviceId}`)?.delivered.get(conversationId) ?? 0,
      }));
      const next = offset + this.pageSize;
      return { conversations: page, nextPageToken: next < mine.length ? String(next) : '' };
    },
    pullMessages: async (request: messageV1.PullMessagesRequest, context: CallContext) => {
      const caller = callerOf(context.metadata);
      const conversation = this.conversations.get(request.conversationId);
      if (conversation === undefined || !conversation.members.includes(caller.userId)) {
        throw new ServerError(Status.NOT_FOUND, 'No such conversation.');
      }
      const limit = Math.min(request.limit || 100, 500);
      const after = conversation.messages.filter((m) => m.seq > request.afterSeq);
      return { messages: after.slice(0, limit), hasMore: after.length > limit };
    },
    markRead: async (request: messageV1.MarkReadRequest, context: CallContext) => {
      const caller = callerOf(context.metadata);
      const conversation = this.conversations.get(request.conversationId);
      if (conversation === undefined) throw new ServerError(Status.NOT_FOUND, 'No such conversation.');
      const receipt = messageV1.Receipt.fromPartial({ ...request, userId: caller.userId, kind: 2 });
      for (const connection of this.connections) {
        if (connection.userId !== caller.userId) connection.send({ kind: { $case: 'receipt', value: receipt } });
      }
      return { readSeq: request.seq };
    },
  };

  readonly connectService = {
    connect: (requests: AsyncIterable<connectV1.ConnectRequest>, context: CallContext) =>
      this.connectStream(requests, context),
    subscribe: (_request: connectV1.SubscribeRequest, context: CallContext) => this.subscribeStream(context),
    ack: async (request: connectV1.AckRequest, context: CallContext) => {
      const caller = callerOf(context.metadata);
      const connection = [...this.connections].find((c) => c.connectionId === request.connectionId);
      if (connection === undefined || connection.userId !== caller.userId) {
        throw new ServerError(Status.NOT_FOUND, 'No such connection.');
      }
      if (request.ack !== undefined) this.recordAck(connection, request.ack);
      return { serverTimeMs: Date.now() };
    },
  };

  /** Starts gRPC, grpc-web and WebSocket listeners on free ports. */
  async start(): Promise<{ baseUrl: string; grpcWebUrl: string; webSocketUrl: string }> {
    this.server = createServer();
    this.server.add(messageV1.MessageServiceDefinition, this.messageService);
    this.server.add(connectV1.ConnectServiceDefinition, this.connectService);
    const port = await this.server.listen('127.0.0.1:0');
    this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      path: '/ws',
      handleProtocols: (protocols) =>
        protocols.has('im.v1') && [...protocols].some((p) => p.startsWith('im.auth.')) ? 'im.v1' : false,
    });
    this.wss.on('connection', (socket, request) => {
      const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(/,\s*/);
      let caller: Caller;
      try {
        caller = parseToken(offered.find((p) => p.startsWith('im.auth.'))?.slice('im.auth.'.length));
      } catch {
        socket.close(4401, 'A valid access token is required.');
        return;
      }
      const connection = this.register(caller, (frame) => socket.send(connectV1.ServerFrame.encode(frame).finish()), (abrupt) =>
        abrupt ? socket.terminate() : socket.close(1000),
      );
      socket.on('message', (data: Buffer) => this.receive(connection, connectV1.ClientFrame.decode(data)));
      socket.on('close', () => this.connections.delete(connection));
    });
    await new Promise<void>((resolve) => this.wss?.on('listening', resolve));
    const wsPort = (this.wss.address() as AddressInfo).port;
    this.grpcWeb = await startGrpcWebBridge([
      [messageV1.MessageServiceDefinition, this.messageService],
      [connectV1.ConnectServiceDefinition, this.connectService],
    ]);
    return { baseUrl: `http://127.0.0.1:${port}`, grpcWebUrl: this.grpcWeb.url, webSocketUrl: `ws://127.0.0.1:${wsPort}/ws` };
  }

  async stop(): Promise<void> {
    for (const connection of this.connections) connection.end(true);
    this.server?.forceShutdown();
    await this.grpcWeb?.close();
    await new Promise<void>((resolve) => (this.wss === undefined ? resolve() : this.wss.close(() => resolve())));
  }

  /** Live connections of a user. */
  connectionsOf(userId: string): number {
    return [...this.connections].filter((c) => c.userId === userId).length;
  }

  /** Cuts every connection of the user as a network failure would. */
  kill(userId: string): void {
    for (const connection of [...this.connections]) if (connection.userId === userId) connection.end(true);
  }

  /** Tells every connection of the user to reconnect after `afterMs`, then ends it. */
  goAway(userId: string, afterMs: number): void {
    for (const connection of [...this.connections]) {
      if (connection.userId !== userId) continue;
      connection.send({ kind: { $case: 'goAway', value: { reconnect: true, reconnectAfterMs: afterMs, reason: 'drain' } } });
      connection.end(false);
    }
  }

  /** Sends as `from` to a direct chat with `toUserId`, as the SendMessage RPC does. */
  sendMessage(from: Caller, request: messageV1.SendMessageRequest): messageV1.SendMessageResponse {
    this.sendCalls += 1;
    const key = `${from.userId}\u0000${request.clientMsgId}`;
    const earlier = this.replies.get(key);
    if (earlier !== undefined) return { ...earlier, duplicate: true };
    const body = request.content?.body;
    const text = body?.$case === 'text' ? body.value.text : '';
    if (text.trim() === '') throw new ServerError(Status.INVALID_ARGUMENT, 'The text is empty.');
    const target = request.target;
    if (target?.$case !== 'toUserId') throw new ServerError(Status.INVALID_ARGUMENT, 'Only direct messages here.');
    const members = [from.userId, target.value].sort();
    const conversationId = `dm:${members.join(':')}`;
    let conversation = this.conversations.get(conversationId);
    if (conversation === undefined) {
      conversation = { members, messages: [] };
      this.conversations.set(conversationId, conversation);
    }
    const message: messageV1.Message = messageV1.Message.fromPartial({
      messageId: randomUUID(),
      conversationId,
      seq: conversation.messages.length + 1,
      senderId: from.userId,
      senderDeviceId: from.deviceId,
      clientMsgId: request.clientMsgId,
      content: request.content,
      sentAt: new Date(),
    });
    conversation.messages.push(message);
    const reply = { messageId: message.messageId, conversationId, seq: message.seq, sentAt: message.sentAt, duplicate: false };
    this.replies.set(key, reply);
    this.push(message, from);
    if (this.failSendReplies > 0) {
      this.failSendReplies -= 1;
      throw new ServerError(Status.UNAVAILABLE, 'The reply was lost.');
    }
    return reply;
  }

  private push(message: messageV1.Message, from: Caller): void {
    const members = this.conversations.get(message.conversationId)?.members ?? [];
    const fate = this.pushFate(message);
    for (const connection of this.connections) {
      if (!members.includes(connection.userId)) continue;
      if (connection.userId === from.userId && connection.deviceId === from.deviceId) continue;
      const frame: Frame = { kind: { $case: 'message', value: message } };
      if (fate === 'drop') continue;
      if (fate === 'late') {
        connection.late.push(frame);
        continue;
      }
      connection.send(frame);
      if (fate === 'twice') connection.send(frame);
      for (const late of connection.late.splice(0)) connection.send(late);
    }
  }

  private async *connectStream(
    requests: AsyncIterable<connectV1.ConnectRequest>,
    context: CallContext,
  ): AsyncGenerator<connectV1.ConnectResponse> {
    const iterator = requests[Symbol.asyncIterator]();
    const first = await iterator.next();
    const auth = first.done === true ? undefined : first.value.frame?.kind;
    if (auth?.$case !== 'auth') throw new ServerError(Status.UNAUTHENTICATED, 'The first frame must be auth.');
    const caller = parseToken(auth.value.accessToken);
    const frames = this.serve(caller, context.signal, (connection) => {
      void (async () => {
        try {
          for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
            if (next.value.frame !== undefined) this.receive(connection, next.value.frame);
          }
        } catch {
          // The client went away; serve() ends with the signal.
        }
      })();
    });
    for await (const frame of frames) yield { frame };
  }

  private async *subscribeStream(context: CallContext): AsyncGenerator<connectV1.SubscribeResponse> {
    const caller = callerOf(context.metadata);
    for await (const frame of this.serve(caller, context.signal)) yield { frame };
  }

  /** Registers a streaming connection, says `authenticated`, and yields its frames until it ends. */
  private async *serve(
    caller: Caller,
    signal: AbortSignal,
    started?: (connection: FakeConnection) => void,
  ): AsyncGenerator<Frame> {
    const queue = new AsyncQueue<Frame>();
    let abrupt = false;
    const connection = this.register(caller, (frame) => queue.push(frame), (isAbrupt) => {
      abrupt = isAbrupt;
      queue.end();
    });
    started?.(connection);
    signal.addEventListener('abort', () => queue.end());
    try {
      for await (const frame of queue) yield frame;
      if (abrupt) throw new ServerError(Status.UNAVAILABLE, 'The connection was cut.');
    } finally {
      this.connections.delete(connection);
    }
  }

  private register(caller: Caller, send: (frame: Frame) => void, end: (abrupt: boolean) => void): FakeConnection {
    const connection: FakeConnection = { ...caller, connectionId: randomUUID(), late: [], send, end };
    this.connections.add(connection);
    send({
      kind: {
        $case: 'authenticated',
        value: { ...caller, connectionId: connection.connectionId, heartbeatIntervalMs: this.heartbeatIntervalMs },
      },
    });
    return connection;
  }

  private receive(connection: FakeConnection, frame: connectV1.ClientFrame): void {
    const kind = frame.kind;
    if (kind?.$case === 'ack') this.recordAck(connection, kind.value);
    if (kind?.$case === 'ping') {
      connection.send({ kind: { $case: 'pong', value: { clientTimeMs: kind.value.clientTimeMs, serverTimeMs: Date.now() } } });
    }
  }

  private recordAck(connection: FakeConnection, ack: connectV1.Ack): void {
    const key = `${connection.userId}/${connection.deviceId}`;
    const acks = this.acks.get(key) ?? { ids: new Set<string>(), delivered: new Map<string, number>() };
    this.acks.set(key, acks);
    for (const id of ack.messageIds) acks.ids.add(id);
    for (const { conversationId, seq } of ack.delivered) {
      acks.delivered.set(conversationId, Math.max(seq, acks.delivered.get(conversationId) ?? 0));
    }
  }
}
