// Test helper: reads a stream of ServerFrames in the background so a test can
// await the next one with a timeout, and see how the stream ended.
import type { connectV1 } from '@im-mesh/contracts';

export class FrameReader {
  private readonly frames: connectV1.ServerFrame[] = [];
  private waiter: (() => void) | undefined;
  private endedWith: { error: unknown } | undefined;
  private settle: ((error: unknown) => void) | undefined;
  /** Resolves with the stream's error (undefined when it ended cleanly). */
  readonly ended: Promise<unknown>;

  /** Reads `source` when given; otherwise frames come through push() and finish(). */
  constructor(source?: AsyncIterable<connectV1.ServerFrame | undefined>) {
    this.ended = new Promise((resolve) => {
      this.settle = resolve;
    });
    if (source) {
      void (async () => {
        try {
          for await (const frame of source) if (frame) this.push(frame);
          this.finish(undefined);
        } catch (error) {
          this.finish(error);
        }
      })();
    }
  }

  push(frame: connectV1.ServerFrame): void {
    this.frames.push(frame);
    this.waiter?.();
  }

  finish(error?: unknown): void {
    if (this.endedWith) return;
    this.endedWith = { error };
    this.settle?.(error);
    this.waiter?.();
  }

  /** The next frame; rejects after `timeoutMs` or when the stream ended first. */
  async next(timeoutMs = 2_000): Promise<connectV1.ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      if (this.endedWith) throw new Error(`stream ended before the next frame (${String(this.endedWith.error)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** The next frame of the given kind's value, failing on any other kind. */
  async expect<K extends NonNullable<connectV1.ServerFrame['kind']>['$case']>(
    kind: K,
    timeoutMs?: number,
  ): Promise<Extract<NonNullable<connectV1.ServerFrame['kind']>, { $case: K }>['value']> {
    const frame = await this.next(timeoutMs);
    if (frame.kind?.$case !== kind) throw new Error(`expected ${kind}, got ${JSON.stringify(frame.kind)}`);
    return frame.kind.value as never;
  }

  /** Frames received and not yet taken. */
  get buffered(): number {
    return this.frames.length;
  }
}
