// LISTEN core_outbox on a dedicated PostgreSQL connection (not from the pool:
// a pooled connection cannot hold a LISTEN), so a send committed by any core
// instance wakes every instance's relay. If the connection drops it reconnects
// with backoff and wakes the relay once, since notifications may have been
// missed meanwhile; polling covers the gap.
//
// The same connection also announces this instance's commits to the others
// (notifyOthers): a NOTIFY sent after the commit, in a transaction of its own,
// instead of inside every send transaction, where PostgreSQL would serialize
// the commits of all senders on its notification queue lock. Its own
// notifications come back to it and are ignored (the relay here was woken
// in-process already).
//
// Only the newest client counts: a broken client can still report 'error' and
// 'end' late, while its successor is connecting. Those events are stale; acting
// on them would schedule a second reconnect and leak the successor's connection.
import pg from 'pg';
import type { Logger } from '@im-mesh/platform';

const NOTIFY_TIMEOUT_MS = 5_000;

class NotifyTimedOut extends Error {
  constructor() {
    super(`NOTIFY took longer than ${NOTIFY_TIMEOUT_MS} ms`);
  }
}

export interface OutboxListenerOptions {
  /** Makes the client; a real pg.Client by default (tests pass a fake). */
  newClient?: () => pg.Client;
  /** First reconnect delay; doubles per failure up to 30 s. 500 ms by default. */
  retryBaseMs?: number;
}

export class OutboxListener {
  /** The newest client, connecting or listening; undefined while waiting to reconnect or stopped. */
  private current: pg.Client | undefined;
  /** The current client has connected and runs LISTEN. */
  private listening = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private readonly newClient: () => pg.Client;
  private readonly retryBaseMs: number;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly onNotify: () => void,
    private readonly logger: Logger,
    options: OutboxListenerOptions = {},
  ) {
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.newClient =
      options.newClient ??
      (() =>
        new pg.Client({
          connectionString: this.databaseUrl,
          application_name: 'im-core-outbox-listener',
          // A LISTEN connection is idle for long stretches: keepalive notices a dead peer.
          keepAlive: true,
          // A connect that hangs would otherwise hold stop() too.
          connectionTimeoutMillis: 10_000,
        }));
  }

  /** Connects and listens; a failure is logged and retried in the background. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  /** Closes the connection, including one still connecting, before it resolves. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.current;
    this.current = undefined;
    this.listening = false;
    // Ending a connection that already broke can reject; it is gone either way.
    await client?.end().catch(() => undefined);
  }

  /**
   * Tells the other instances' relays that rows were committed. Resolves once
   * PostgreSQL took the NOTIFY, or at once while the connection is down (their
   * poll covers it then); never rejects.
   */
  async notifyOthers(): Promise<void> {
    const client = this.current;
    if (!client || !this.listening) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Bounded: on a connection that died without a word the NOTIFY would never
      // settle, and no later commit would be announced (one is in flight at most).
      await Promise.race([
        client.query(`NOTIFY ${this.channel}`),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new NotifyTimedOut()), NOTIFY_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      // The connection broke: its 'error' or 'end' starts the reconnect. A NOTIFY
      // that timed out means the same, so drop the connection to start one.
      if (client === this.current && error instanceof NotifyTimedOut) this.lost(client, error);
    } finally {
      clearTimeout(timer);
    }
  }

  private async connect(): Promise<void> {
    const client = this.newClient();
    this.current = client;
    this.listening = false;
    client.on('notification', (message) => {
      if (client !== this.current || message.channel !== this.channel) return;
      if (message.processId === ownBackend(client)) return;
      this.onNotify();
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, undefined));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    // Stopped, or this client broke (and was replaced) while it was connecting.
    if (client !== this.current) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listening = true;
    if (this.failures > 0) {
      this.logger.info({ channel: this.channel }, 'outbox listener reconnected');
      this.onNotify();
    }
    this.failures = 0;
  }

  private lost(client: pg.Client, error: unknown): void {
    // The broken client may still hold a socket; closing it is best effort (and
    // a no-op for a client that already ended).
    void client.end().catch(() => undefined);
    // A stale event of a superseded client, a second event of the same loss, or
    // anything after stop: the reconnect, if any, is already in hand.
    if (this.stopped || client !== this.current) return;
    this.current = undefined;
    this.listening = false;
    this.failures += 1;
    const delay = Math.min(30_000, this.retryBaseMs * 2 ** Math.min(this.failures - 1, 6));
    this.logger.warn({ err: error, retryInMs: delay }, 'outbox listener lost its connection; relying on polling until it is back');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }
}

/** The backend process id of a connected pg.Client (pg sets it on connect; not in its types). */
function ownBackend(client: pg.Client): number | undefined {
  return (client as unknown as { processID?: number }).processID;
}
