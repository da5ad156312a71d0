// A counting semaphore with a bounded waiting line: at most `limit` tasks run at
// once, at most `maxWaiting` more wait in arrival order, and anyone beyond that
// is told the server is busy. Password hashing uses it so a burst of logins
// queues instead of pinning every core and ~19 MiB of memory per hash, and a
// flood cannot grow the line (and its memory, and everyone's wait) without end.
// A waiter whose call was abandoned (client gone, deadline passed) leaves the
// line without running: nobody would read its answer.
import { AppError, ErrorCode } from '@im-mesh/platform';

export const SERVER_BUSY = 'The server is busy; try again in a moment.';

interface Waiter {
  /** Hands this waiter the slot of a finishing task. */
  grant(): void;
}

export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`concurrency limit must be a positive integer, got ${limit}`);
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new Error(`waiting limit must be a whole number, got ${maxWaiting}`);
  }

  /**
   * Runs `task` once a slot is free. Rejects with RESOURCE_EXHAUSTED when the
   * line is full, and with an AbortError (which the gRPC error boundary passes
   * through without logging) when `signal` aborts before the task started.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private async acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw abandoned();
    if (this.running < this.limit) {
      this.running += 1;
      return;
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new AppError(ErrorCode.ResourceExhausted, SERVER_BUSY, { reason: 'SERVER_BUSY', retryAfterMs: 1000 });
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(abandoned());
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
    // Granted, but the call may have been abandoned before this continuation ran.
    if (signal?.aborted) {
      this.release();
      throw abandoned();
    }
  }

  private release(): void {
    // Hand the slot straight to the next waiter; only free it when nobody waits.
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.running -= 1;
  }
}

function abandoned(): Error {
  return new DOMException('The call was abandoned while waiting for a password hashing slot.', 'AbortError');
}
