// LISTEN core_outbox on a dedicated PostgreSQL connection (not from the pool:
// a pooled connection cannot hold a LISTEN), so a send committed by any core
// instance wakes every instance's relay. If the connection drops it reconnects
// with backoff and wakes the relay once, since notifications may have been
// missed meanwhile; polling covers the gap.
import pg from 'pg';
import type { Logger } from '@im-mesh/platform';

export class OutboxListener {
  private client: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly onNotify: () => void,
    private readonly logger: Logger,
  ) {}

  /** Connects and listens; a failure is logged and retried in the background. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    // Ending a connection that already broke can reject; it is gone either way.
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'im-core-outbox-listener' });
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.onNotify();
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
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (this.failures > 0) {
      this.logger.info({ channel: this.channel }, 'outbox listener reconnected');
      this.onNotify();
    }
    this.failures = 0;
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.stopped || (this.client !== undefined && this.client !== client)) return;
    if (this.reconnectTimer !== undefined) return;
    this.client = undefined;
    this.failures += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures - 1, 6));
    this.logger.warn({ err: error, retryInMs: delay }, 'outbox listener lost its connection; relying on polling until it is back');
    // The broken client may still hold a socket; closing it is best effort.
    void client.end().catch(() => undefined);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }
}
