// Deletes abandoned uploads: rows of uploads nobody completed within an hour
// after their URL expired (their bytes may have arrived), and refused ones,
// with whatever bytes they left in the blob store. Runs every
// CORE_FILE_SWEEP_INTERVAL_MS in each core instance; instances skip each
// other's rows, so running several at once is safe.
import type { BlobStore, Logger } from '@im-mesh/platform';
import type { FileStore } from '../storage/file-store.js';

/** How long after its URL expired an upload may still be completed (its bytes are kept that long). */
export const ABANDONED_AFTER_SECONDS = 3600;
const BATCH = 200;

export class UploadSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly files: FileStore,
    private readonly blobs: BlobStore,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: deletes abandoned uploads until none are left; returns how many. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const keys = await this.files.takeAbandoned(ABANDONED_AFTER_SECONDS, BATCH);
      for (const key of keys) {
        // The row is gone; bytes left behind by a failed delete are unreachable, not exposed.
        await this.blobs.delete(key).catch((error: unknown) => this.logger.warn({ err: error, key }, 'could not delete an abandoned upload'));
      }
      total += keys.length;
      if (keys.length < BATCH) return total;
    }
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.sweep()
      .then((count) => {
        if (count > 0) this.logger.info({ count }, 'abandoned uploads deleted');
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'sweeping abandoned uploads failed; will try again'))
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }
}
