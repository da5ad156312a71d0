// ConnectionSupervisor: keeps one long connection alive over any transport. It
// opens and authenticates it, runs the sync hook before calling it connected,
// pings every heartbeat_interval_ms and drops a connection that stays silent,
// and reconnects with jittered exponential backoff after a drop, an error, or a
// GoAway{reconnect} (waiting at least the delay the server asked for).
//
// Connections are numbered; every callback checks its number, so nothing from
// a dead connection touches the live one.
import type { connectV1 } from '@im-mesh/contracts';
import { ClientError, Status } from 'nice-grpc-common';
import type { AccessTokenSource } from './access-token-source.js';
import { isRetryable } from './rpc-call.js';
import { Backoff, type BackoffOptions } from './timing.js';
import type { ConnectionTransport, TransportSession } from './transports/connection-transport.js';

/**
 * idle: not started. connecting: opening and authenticating. syncing: catching
 * up. connected: live. reconnecting: waiting to try again. disconnected: gave up
 * (first connect failed, auth failed, or GoAway without reconnect); connect()
 * may be called again. closed: close() was called; final.
 */
export type ConnectionState = 'idle' | 'connecting' | 'syncing' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

/** An `error` frame from the server (its `code` is a gRPC status number). */
export class ServerFrameError extends Error {
  constructor(readonly detail: { code: number; message: string; reason: string }) {
    super(detail.message === '' ? `The server reported error ${detail.code}.` : detail.message);
    this.name = 'ServerFrameError';
  }
}

/** The server sent GoAway without reconnect (for example, the session was revoked). */
export class GoAwayError extends Error {
  constructor(readonly reason: string) {
    super(reason === '' ? 'The server closed the connection for good.' : `The server closed the connection: ${reason}`);
    this.name = 'GoAwayError';
  }
}

export interface SupervisorHooks {
  /** Runs after `authenticated` and before the state becomes connected; a rejection drops the connection. */
  onAuthenticated(info: connectV1.Authenticated, connection: number): Promise<void>;
  /** Message, receipt and any other frame the supervisor does not handle itself. */
  onFrame(frame: connectV1.ServerFrame, connection: number): void;
  onState(state: ConnectionState, error?: unknown): void;
  onError(error: unknown): void;
}

export interface SupervisorOptions {
  readonly transport: ConnectionTransport;
  readonly tokens: AccessTokenSource;
  readonly hooks: SupervisorHooks;
  readonly reconnect?: BackoffOptions;
  /** How long to wait for `authenticated` after opening, in ms. Default 10,000. */
  readonly authenticateTimeoutMs?: number;
}

interface LiveConnection {
  readonly connection: number;
  /** Set as soon as open() returns. */
  session?: TransportSession;
  lastFrameAt: number;
  authenticated?: connectV1.Authenticated;
  timers: Array<ReturnType<typeof setTimeout>>;
}

const DEFAULT_HEARTBEAT_MS = 30_000;

export class ConnectionSupervisor {
  private live: LiveConnection | undefined;
  private counter = 0;
  private current: ConnectionState = 'idle';
  private readonly backoff: Backoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private firstConnect: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;
  private forceTokenRefresh = false;
  private goAwayDelayMs = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new Backoff(options.reconnect);
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The live, authenticated connection, if any. */
  get authenticated(): { connection: number; info: connectV1.Authenticated; session: TransportSession } | undefined {
    const live = this.live;
    return live?.authenticated === undefined || live.session === undefined
      ? undefined
      : { connection: live.connection, info: live.authenticated, session: live.session };
  }

  /**
   * Connects and resolves once connected (synced). Rejects if this first attempt
   * fails; after one success, drops are retried until stop().
   */
  start(): Promise<void> {
    if (this.current === 'closed') return Promise.reject(new Error('This client was closed; create a new one.'));
    if (this.current === 'connected') return Promise.resolve();
    if (this.firstConnect !== undefined) return this.firstConnect.promise;
    if (this.current !== 'idle' && this.current !== 'disconnected') return Promise.resolve();
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.firstConnect = { promise, resolve, reject };
    void this.attempt();
    return promise;
  }

  /** Closes the connection for good. */
  stop(): void {
    if (this.current === 'closed') return;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.detach()?.close();
    this.setState('closed');
    this.settleFirst(new Error('The client was closed before it connected.'));
  }

  private async attempt(): Promise<void> {
    this.reconnectTimer = undefined;
    const connection = ++this.counter;
    this.setState('connecting');
    let accessToken: string;
    try {
      accessToken = await this.options.tokens.getAccessToken({ forceRefresh: this.forceTokenRefresh });
    } catch (error) {
      if (this.counter === connection && this.current !== 'closed') this.failed(error, !isRetryable(error));
      return;
    }
    if (this.counter !== connection || this.current === 'closed') return;
    this.forceTokenRefresh = false;
    const live: LiveConnection = { connection, lastFrameAt: Date.now(), timers: [] };
    this.live = live;
    let session: TransportSession;
    try {
      session = this.options.transport.open(
        { accessToken, tokens: this.options.tokens },
        {
          onFrame: (frame) => this.handleFrame(connection, frame),
          onClose: (error) => this.handleClose(connection, error),
        },
      );
    } catch (error) {
      // A transport that cannot even start (bad URL, a token the WebSocket API refuses).
      this.live = undefined;
      this.failed(error);
      return;
    }
    live.session = session;
    // onClose may already have run inside open(), for a transport that fails at once.
    if (this.live !== live) {
      session.close();
      return;
    }
    const timeoutMs = this.options.authenticateTimeoutMs ?? 10_000;
    live.timers.push(
      setTimeout(() => this.drop(connection, new Error(`The server did not authenticate the connection within ${timeoutMs} ms.`)), timeoutMs),
    );
  }

  private handleFrame(connection: number, frame: connectV1.ServerFrame): void {
    const live = this.live;
    if (live?.connection !== connection) return;
    live.lastFrameAt = Date.now();
    const kind = frame.kind;
    switch (kind?.$case) {
      case 'authenticated':
        if (live.authenticated === undefined) this.onAuthenticated(live, kind.value);
        return;
      case 'pong':
        return;
      case 'goAway':
        this.goAwayDelayMs = kind.value.reconnectAfterMs;
        if (kind.value.reconnect) this.drop(connection, undefined);
        else this.drop(connection, new GoAwayError(kind.value.reason), true);
        return;
      case 'error':
        if (kind.value.code === Status.UNAUTHENTICATED) this.forceTokenRefresh = true;
        this.options.hooks.onError(new ServerFrameError(kind.value));
        return;
      default:
        this.options.hooks.onFrame(frame, connection);
    }
  }

  private onAuthenticated(live: LiveConnection, info: connectV1.Authenticated): void {
    live.authenticated = info;
    for (const timer of live.timers) clearTimeout(timer);
    live.timers = [];
    const interval = info.heartbeatIntervalMs > 0 ? info.heartbeatIntervalMs : DEFAULT_HEARTBEAT_MS;
    live.timers.push(setInterval(() => this.heartbeat(live, interval), interval));
    this.setState('syncing');
    this.options.hooks.onAuthenticated(info, live.connection).then(
      () => {
        if (this.live !== live) return;
        this.backoff.reset();
        this.setState('connected');
        this.settleFirst();
      },
      (error: unknown) => this.drop(live.connection, error),
    );
  }

  /** Pings, or drops a connection silent for three intervals (the server's own idle rule). */
  private heartbeat(live: LiveConnection, interval: number): void {
    if (Date.now() - live.lastFrameAt > 3 * interval) {
      this.drop(live.connection, new Error(`No frame from the server for ${3 * interval} ms.`));
      return;
    }
    // A failed ping is answered by the silence check above; nothing to do here.
    live.session?.send({ kind: { $case: 'ping', value: { clientTimeMs: Date.now() } } }).catch(() => undefined);
  }

  private handleClose(connection: number, error: unknown): void {
    const live = this.live;
    // Connections this side dropped (or replaced) were already dealt with.
    if (live?.connection !== connection) return;
    const wasAuthenticated = live.authenticated !== undefined;
    this.detach();
    if (error instanceof ClientError && error.code === Status.UNAUTHENTICATED) this.forceTokenRefresh = true;
    // A stream that ends cleanly before `authenticated` was refused; say so.
    this.failed(error ?? (wasAuthenticated ? undefined : new Error('The server ended the connection before authenticating it.')));
  }

  /** Ends connection `connection` from this side and carries on as after a failure. */
  private drop(connection: number, error: unknown, fatal = false): void {
    if (this.live?.connection !== connection) return;
    this.detach()?.close();
    this.failed(error, fatal);
  }

  /**
   * After a failed or lost connection: give up (fatal, or an error on the first
   * attempt) or schedule the next attempt. `error` undefined means the server
   * ended the connection cleanly (GoAway{reconnect}, drain): always come back.
   */
  private failed(error: unknown, fatal = false): void {
    if (fatal || (this.firstConnect !== undefined && error !== undefined)) {
      this.setState('disconnected', error);
      this.settleFirst(error ?? new Error('The connection ended.'));
      return;
    }
    if (error !== undefined) this.options.hooks.onError(error);
    const delay = Math.max(this.backoff.next(), this.goAwayDelayMs);
    this.goAwayDelayMs = 0;
    this.setState('reconnecting', error);
    this.reconnectTimer = setTimeout(() => void this.attempt(), delay);
  }

  private detach(): TransportSession | undefined {
    const live = this.live;
    if (live === undefined) return undefined;
    for (const timer of live.timers) clearTimeout(timer);
    this.live = undefined;
    return live.session;
  }

  private settleFirst(error?: unknown): void {
    const first = this.firstConnect;
    this.firstConnect = undefined;
    if (first === undefined) return;
    if (error === undefined) first.resolve();
    else first.reject(error);
  }

  private setState(state: ConnectionState, error?: unknown): void {
    if (this.current === state) return;
    this.current = state;
    this.options.hooks.onState(state, error);
  }
}
