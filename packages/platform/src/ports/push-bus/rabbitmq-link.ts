// The push bus's AMQP connection, kept alive: it dials with a heartbeat (a dead
// peer is noticed in two intervals), reconnects after any loss with capped,
// jittered exponential backoff until closed, and tracks `connection.blocked`.
// Channels belong to their users (publisher, node consumers), which open new
// ones when told about a new connection: amqplib channels made before a drop
// stay dead. amqplib's own recovery wrapper is not used because it would hide
// exactly those moments from us.
import { connect, type ChannelModel } from 'amqplib';
import type { Logger } from 'pino';

export const DEFAULT_RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';

export interface RabbitMqLinkOptions {
  url: string;
  /** Shown by `rabbitmqctl list_connections name client_properties`. */
  connectionName: string;
  /** Used unless the URL has its own `heartbeat` parameter. */
  heartbeatSeconds: number;
  connectTimeoutMs: number;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  logger?: Logger;
  /** Told about every new connection (e.g. to attach diagnostics; fault tests cut its socket). */
  onConnection?: (connection: ChannelModel) => void;
}

/** 'connected': a new connection is up; 'unblocked': the broker accepts publishes again. */
export type LinkEvent = 'connected' | 'unblocked';

/** The URL with any password replaced, safe for logs and error messages. */
export function redactAmqpUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable AMQP URL)';
  }
}

/** Closes an amqplib connection or channel without waiting longer than `timeoutMs` for the broker. */
export async function closeQuietly(closable: { close(): Promise<void> }, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    // Closing something the broker or the network already closed fails; it is gone either way.
    closable.close().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

export class RabbitMqLink {
  private model: ChannelModel | undefined;
  private isBlocked = false;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(event: LinkEvent) => void>();
  /** Connections re-established after a loss. */
  reconnects = 0;

  private constructor(private readonly options: RabbitMqLinkOptions) {}

  /** Connects once; rejects naming the (redacted) URL when the broker is unreachable. */
  static async open(options: RabbitMqLinkOptions): Promise<RabbitMqLink> {
    const link = new RabbitMqLink(options);
    link.adopt(await link.dial());
    return link;
  }

  /** The live connection, or undefined while reconnecting. */
  get connection(): ChannelModel | undefined {
    return this.model;
  }

  /** The broker asked publishers to pause (memory or disk alarm). */
  get blocked(): boolean {
    return this.isBlocked;
  }

  /** Listens for link events; returns the function that stops listening. */
  subscribe(listener: (event: LinkEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with a live connection, waiting up to `timeoutMs` for a reconnect. */
  async waitForConnection(timeoutMs: number): Promise<ChannelModel> {
    if (this.closed) throw new Error('the push bus is closed');
    if (this.model) return this.model;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no connection to RabbitMQ at ${redactAmqpUrl(this.options.url)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.subscribe((event) => {
        if (event !== 'connected' || !this.model) return;
        clearTimeout(timer);
        stop();
        resolve(this.model);
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.listeners.clear();
    const model = this.model;
    this.model = undefined;
    if (model) await closeQuietly(model);
  }

  private async dial(): Promise<ChannelModel> {
    const url = new URL(this.options.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(this.options.heartbeatSeconds));
    try {
      return await connect(url.toString(), {
        timeout: this.options.connectTimeoutMs,
        clientProperties: { connection_name: this.options.connectionName },
      });
    } catch (error) {
      throw new Error(`RabbitMQ is not reachable at ${redactAmqpUrl(this.options.url)}: ${(error as Error).message}`, { cause: error });
    }
  }

  private adopt(model: ChannelModel): void {
    this.model = model;
    this.isBlocked = false;
    const logger = this.options.logger;
    // An 'error' event without a listener would crash the process; 'close' follows it.
    model.on('error', (error: Error) => logger?.warn({ err: error }, 'RabbitMQ connection failed'));
    model.on('close', () => this.lost(model));
    model.on('blocked', (reason: string) => {
      if (this.model !== model) return;
      this.isBlocked = true;
      logger?.warn({ reason }, 'RabbitMQ blocked publishing; publishes wait up to their timeout');
    });
    model.on('unblocked', () => {
      if (this.model !== model || !this.isBlocked) return;
      this.isBlocked = false;
      logger?.info('RabbitMQ unblocked publishing');
      this.emit('unblocked');
    });
    this.options.onConnection?.(model);
    this.emit('connected');
  }

  private lost(model: ChannelModel): void {
    if (this.model !== model) return;
    this.model = undefined;
    this.isBlocked = false;
    if (this.closed) return;
    this.options.logger?.warn('RabbitMQ connection lost; reconnecting');
    this.scheduleReconnect(1);
  }

  private scheduleReconnect(attempt: number): void {
    const { reconnectInitialDelayMs: initial, reconnectMaxDelayMs: max } = this.options;
    // Jitter spreads the reconnects of many nodes after a broker restart.
    const delay = Math.min(max, initial * 2 ** Math.min(attempt - 1, 20)) * (0.75 + Math.random() * 0.25);
    this.reconnectTimer = setTimeout(() => void this.reconnect(attempt), delay);
  }

  private async reconnect(attempt: number): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    let model: ChannelModel;
    try {
      model = await this.dial();
    } catch (error) {
      if (this.closed) return;
      this.options.logger?.warn({ err: error, attempt }, 'RabbitMQ reconnect failed; trying again');
      this.scheduleReconnect(attempt + 1);
      return;
    }
    if (this.closed) {
      await closeQuietly(model);
      return;
    }
    this.reconnects += 1;
    this.options.logger?.info({ attempt }, 'RabbitMQ connection re-established');
    this.adopt(model);
  }

  private emit(event: LinkEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        // One broken listener must not keep the others from recovering.
        this.options.logger?.error({ err: error, event }, 'push bus link listener failed');
      }
    }
  }
}
