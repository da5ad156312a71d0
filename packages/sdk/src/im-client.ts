// ImClient: one device's messaging client. It keeps a long connection (native
// gRPC, grpc-web or WebSocket) through ConnectionSupervisor, turns pushes and
// syncs into one ordered, exactly-once message stream through MessageStream,
// and sends messages with an idempotency key so retries never duplicate.
//
//   const im = new ImClient({ tokens: auth, transport: 'websocket', platform: nodePlatform });
//   im.onMessage((message) => ...);
//   await im.connect();
//   await im.sendText({ toUserId }, 'hello');
import { messageV1, type connectV1 } from '@im-mesh/contracts';
import type { CallOptions } from 'nice-grpc-common';
import type { AccessTokenSource } from './access-token-source.js';
import { AckBatcher, type AckSink } from './ack-batcher.js';
import { ConnectionSupervisor, type ConnectionState } from './connection-supervisor.js';
import { Listeners, type Unsubscribe } from './listeners.js';
import { MessageStream } from './message-stream.js';
import { browserPlatform, type SdkPlatform } from './platform.js';
import { ReceiptWatermarks } from './receipt-watermarks.js';
import { callWithRetry, DEFAULT_CALL_POLICY, type CallPolicy } from './rpc-call.js';
import { DEFAULT_BASE_URL, openRpcChannel, type RpcChannel, type RpcKind } from './rpc-channel.js';
import { MemorySyncStateStore, type SyncStateStore } from './sync-state-store.js';
import type { BackoffOptions } from './timing.js';
import type { ConnectionTransport, TransportKind } from './transports/connection-transport.js';
import { resolveTransport } from './transports/resolve-transport.js';
import { randomUuid } from './uuid.js';

const MESSAGE_PATH = '/im.message.v1.MessageService/';

export interface ImClientOptions {
  /** Where tokens come from; usually a logged-in AuthClient. */
  readonly tokens: AccessTokenSource;
  /** The long connection: a kind, or your own ConnectionTransport. */
  readonly transport: TransportKind | ConnectionTransport;
  /** Edge address. Default http://127.0.0.1:9191. */
  readonly baseUrl?: string;
  /** WebSocket endpoint. Default: baseUrl with ws(s):// and path /ws. */
  readonly webSocketUrl?: string;
  /** Host adapters; default browserPlatform(). In Node pass nodePlatform from '@im-mesh/sdk/node'. */
  readonly platform?: SdkPlatform;
  /** Protocol of unary calls. Default 'grpc' with the grpc transport, else 'grpc-web'. */
  readonly rpc?: RpcKind;
  /** Use this channel for unary calls instead of opening one (it is then not closed by close()). */
  readonly channel?: RpcChannel;
  /** Per-conversation watermarks; default in memory. */
  readonly syncState?: SyncStateStore;
  /** How long acks are collected before they are sent, in ms. Default 50. */
  readonly ackIntervalMs?: number;
  /** How long an early push waits for the messages before it until the gap is pulled, in ms. Default 100. */
  readonly gapWaitMs?: number;
  /** Deadline and retries of unary calls (default 10 s, 5 attempts, 200 ms doubling). */
  readonly call?: Partial<CallPolicy>;
  /** Reconnect backoff (default 250 ms doubling to 10 s, jittered). */
  readonly reconnect?: BackoffOptions;
  /** How long the server may take to authenticate a new connection, in ms. Default 10,000. */
  readonly authenticateTimeoutMs?: number;
}

/** A direct chat with a user (created on first message) or an existing conversation. */
export type MessageTarget = { readonly toUserId: string } | { readonly conversationId: string };

export interface SendTextOptions {
  /** Idempotency key; default a fresh UUID. Reuse it to retry a send yourself. */
  readonly clientMsgId?: string;
  readonly mentionUserIds?: string[];
  /** Cancels the send (and its retries). */
  readonly signal?: AbortSignal;
}

export class ImClient {
  private readonly channel: RpcChannel;
  private readonly ownedChannels: RpcChannel[] = [];
  private readonly policy: CallPolicy;
  private readonly tokens: AccessTokenSource;
  private readonly supervisor: ConnectionSupervisor;
  private readonly stream: MessageStream;
  private readonly acks: AckBatcher;
  private readonly receipts = new ReceiptWatermarks();
  private readonly errorListeners = new Listeners<[unknown]>(() => undefined);
  private readonly messageListeners = new Listeners<[messageV1.Message]>((error) => this.reportError(error));
  private readonly receiptListeners = new Listeners<[messageV1.Receipt]>((error) => this.reportError(error));
  private readonly stateListeners = new Listeners<[ConnectionState, unknown]>((error) => this.reportError(error));
  private readonly typingListeners = new Listeners<[connectV1.TypingIndicator]>((error) => this.reportError(error));
  private readonly hiddenListeners = new Listeners<[messageV1.MessagesHidden]>((error) => this.reportError(error));
  private identity: connectV1.Authenticated | undefined;

  constructor(options: ImClientOptions) {
    const baseUrl = options.baseUrl ?? DEFAULT_BASE_URL;
    const platform = options.platform ?? browserPlatform();
    this.tokens = options.tokens;
    this.policy = { ...DEFAULT_CALL_POLICY, ...options.call };
    if (options.channel !== undefined) {
      this.channel = options.channel;
    } else {
      const rpc = options.rpc ?? (options.transport === 'grpc' ? 'grpc' : 'grpc-web');
      this.channel = openRpcChannel(baseUrl, rpc, platform);
      this.ownedChannels.push(this.channel);
    }
    const resolved = resolveTransport(options.transport, { baseUrl, webSocketUrl: options.webSocketUrl, platform, channel: this.channel });
    if (resolved.channel !== undefined) this.ownedChannels.push(resolved.channel);

    this.acks = new AckBatcher(options.ackIntervalMs ?? 50, () => this.ackSink(), (error) => this.reportError(error));
    this.stream = new MessageStream({
      api: {
        syncConversations: (pageToken) =>
          this.call('SyncConversations', (o) => this.channel.messages.syncConversations({ pageSize: 200, pageToken }, o)),
        pullMessages: (conversationId, afterSeq, limit) =>
          this.call('PullMessages', (o) => this.channel.messages.pullMessages({ conversationId, afterSeq, limit }, o)),
      },
      store: options.syncState ?? new MemorySyncStateStore(),
      acks: this.acks,
      gapWaitMs: options.gapWaitMs ?? 100,
      onMessage: (message) => this.messageListeners.emit(message),
      onError: (error) => this.reportError(error),
    });
    this.supervisor = new ConnectionSupervisor({
      transport: resolved.transport,
      tokens: this.tokens,
      reconnect: options.reconnect,
      authenticateTimeoutMs: options.authenticateTimeoutMs,
      hooks: {
        onAuthenticated: (info, connection) => this.synchronize(info, connection),
        onFrame: (frame, connection) => this.dispatch(frame, connection),
        onState: (state, error) => this.stateListeners.emit(state, error),
        onError: (error) => this.reportError(error),
      },
    });
  }

  get state(): ConnectionState {
    return this.supervisor.state;
  }

  /** Who the server says this connection is (known after the first authentication). */
  get userId(): string | undefined {
    return this.identity?.userId;
  }

  get deviceId(): string | undefined {
    return this.identity?.deviceId;
  }

  /**
   * Every message of every conversation, including the ones this client sent
   * (compare senderId), exactly once per message id and in seq order per
   * conversation, across reconnects.
   */
  onMessage(listener: (message: messageV1.Message) => void): Unsubscribe {
    return this.messageListeners.add(listener);
  }

  /** Delivered/read receipts of other participants, each watermark increase once. */
  onReceipt(listener: (receipt: messageV1.Receipt) => void): Unsubscribe {
    return this.receiptListeners.add(listener);
  }

  /**
   * Other participants starting or stopping to type. Not stored anywhere: only
   * live connections see them. Show one until `typing` is false or for about 6
   * seconds after the last indicator.
   */
  onTyping(listener: (indicator: connectV1.TypingIndicator) => void): Unsubscribe {
    return this.typingListeners.add(listener);
  }

  /**
   * Tells the other participants that this user is typing (call it every few
   * seconds while they type; extra calls are cheap, the server relays at most
   * one per second) or stopped. False when there is no live connection to send
   * it on: typing is a hint and is never queued.
   */
  async setTyping(conversationId: string, typing: boolean): Promise<boolean> {
    const live = this.supervisor.authenticated;
    if (live === undefined) return false;
    await live.session.send({ kind: { $case: 'typing', value: { conversationId, typing } } });
    return true;
  }

  /**
   * Messages this user deleted for themselves on another device, to hide here
   * too. A live hint: after being offline, compare ConversationState.hidden_version
   * and re-pull (deleted messages come back with deleted_for_me set).
   */
  onMessagesHidden(listener: (hidden: messageV1.MessagesHidden) => void): Unsubscribe {
    return this.hiddenListeners.add(listener);
  }

  /** State changes; `error` says why the connection was lost, when it was. */
  onStateChange(listener: (state: ConnectionState, error: unknown) => void): Unsubscribe {
    return this.stateListeners.add(listener);
  }

  /** Errors the client recovers from by itself (dropped connections, failed gap pulls, error frames, listener throws). */
  onError(listener: (error: unknown) => void): Unsubscribe {
    return this.errorListeners.add(listener);
  }

  /**
   * Opens the connection and resolves once every conversation is synced. Rejects
   * if this first attempt fails; after that, lost connections are re-established
   * (and resynced) until close().
   */
  async connect(): Promise<void> {
    // Watermarks first: a push must never meet a sequencer that has not loaded them.
    await this.stream.load();
    return this.supervisor.start();
  }

  /** Sends pending acks (waiting up to `graceMs`), then closes the connection and channels for good. */
  async close(graceMs = 1_000): Promise<void> {
    if (this.supervisor.state === 'closed') return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.acks.flush(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.acks.stop();
    this.stream.stopGapPulls();
    this.supervisor.stop();
    for (const channel of this.ownedChannels) channel.close();
  }

  /** The seq of the last message of the conversation handed to onMessage, 0 when none. */
  lastAppliedSeq(conversationId: string): number {
    return this.stream.lastApplied(conversationId);
  }

  /**
   * Sends a text message and resolves once it is stored. Retries with the same
   * client_msg_id on UNAVAILABLE and DEADLINE_EXCEEDED, so at most one message is
   * stored; other errors (INVALID_ARGUMENT, NOT_FOUND, ...) reject at once.
   */
  async sendText(target: MessageTarget, text: string, options: SendTextOptions = {}): Promise<messageV1.SendMessageResponse> {
    const content: messageV1.MessageContent = {
      body: { $case: 'text', value: { text, mentionUserIds: options.mentionUserIds ?? [] } },
    };
    return this.sendContent(target, content, options);
  }

  /**
   * Sends any kind of message (image, voice, video, file, location, custom,
   * reply, forward, or text) with the retry rules of sendText. File ids come
   * from FileService.CompleteUpload; reply and forward name a message id and
   * the server fills in the rest.
   */
  async sendContent(
    target: MessageTarget,
    content: messageV1.MessageContent,
    options: Omit<SendTextOptions, 'mentionUserIds'> = {},
  ): Promise<messageV1.SendMessageResponse> {
    const clientMsgId = options.clientMsgId ?? randomUuid();
    const request: messageV1.SendMessageRequest = {
      target:
        'toUserId' in target
          ? { $case: 'toUserId', value: target.toUserId }
          : { $case: 'conversationId', value: target.conversationId },
      clientMsgId,
      content,
    };
    const response = await this.call('SendMessage', (o) => this.channel.messages.sendMessage(request, o), options.signal);
    this.echo(response, clientMsgId, content);
    return response;
  }

  /** Moves this user's read watermark of the conversation to `seq`; resolves to the watermark now stored. */
  async markRead(conversationId: string, seq: number): Promise<number> {
    const response = await this.call('MarkRead', (o) => this.channel.messages.markRead({ conversationId, seq }, o));
    return response.readSeq;
  }

  /** Every conversation of the user with its seq and watermarks (all pages). */
  async syncConversations(): Promise<messageV1.ConversationState[]> {
    const states: messageV1.ConversationState[] = [];
    let pageToken = '';
    do {
      const page = await this.call('SyncConversations', (o) =>
        this.channel.messages.syncConversations({ pageSize: 200, pageToken }, o),
      );
      states.push(...page.conversations);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return states;
  }

  /** After `authenticated`: catch up on every conversation, then let pushes through. */
  private async synchronize(info: connectV1.Authenticated, connection: number): Promise<void> {
    this.identity = info;
    void this.acks.flush();
    const states = await this.stream.resync(() => this.supervisor.authenticated?.connection === connection);
    for (const state of states) {
      for (const receipt of ReceiptWatermarks.fromConversation(state)) this.receive(receipt);
    }
    void this.acks.flush();
  }

  private dispatch(frame: connectV1.ServerFrame, connection: number): void {
    const kind = frame.kind;
    if (kind?.$case === 'message') this.stream.pushed(kind.value, connection);
    else if (kind?.$case === 'receipt') this.receive(kind.value);
    else if (kind?.$case === 'typing') this.typingListeners.emit(kind.value);
    else if (kind?.$case === 'messagesHidden') this.hiddenListeners.emit(kind.value);
    // Frames of kinds this SDK does not know yet (calls) are ignored.
  }

  private receive(receipt: messageV1.Receipt): void {
    if (this.receipts.advance(receipt)) this.receiptListeners.emit(receipt);
  }

  /** Feeds a message this client sent into its own stream, so the next push from others does not look like a gap. */
  private echo(response: messageV1.SendMessageResponse, clientMsgId: string, content: messageV1.MessageContent): void {
    const me = this.identity;
    if (me === undefined || (this.state !== 'connected' && this.state !== 'syncing')) return;
    this.stream.local(
      messageV1.Message.fromPartial({
        messageId: response.messageId,
        conversationId: response.conversationId,
        seq: response.seq,
        senderId: me.userId,
        senderDeviceId: me.deviceId,
        clientMsgId,
        content,
        sentAt: response.sentAt,
      }),
    );
  }

  private ackSink(): AckSink | undefined {
    const live = this.supervisor.authenticated;
    if (live === undefined) return undefined;
    return { connection: live.connection, send: (ack) => live.session.send({ kind: { $case: 'ack', value: ack } }) };
  }

  private call<T>(method: string, call: (options: CallOptions) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return callWithRetry(`${MESSAGE_PATH}${method}`, this.tokens, this.policy, call, signal);
  }

  private reportError(error: unknown): void {
    this.errorListeners.emit(error);
  }
}
