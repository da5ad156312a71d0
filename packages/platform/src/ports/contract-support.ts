// Small helpers shared by the port contract suites (*.contract.ts): real waits,
// polling for eventually-true conditions, and unique names so suites can run
// against shared servers (Redis, RabbitMQ, Consul) without flushing them.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleepFor } from 'node:timers/promises';

/** Waits `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return sleepFor(ms);
}

/** A name no other test run uses, e.g. "user-3f2a...". */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/**
 * Polls `condition` every 10 ms until it returns true; throws `what` after
 * `timeoutMs`, so a broken adapter fails the test instead of hanging it.
 */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleepFor(10);
  }
}

/** Runs `body` with a freshly opened adapter and always closes it. */
export function withAdapter<T extends { close(): Promise<void> }>(open: () => Promise<T>, body: (adapter: T) => Promise<void>): () => Promise<void> {
  return async () => {
    const adapter = await open();
    try {
      await body(adapter);
    } finally {
      await adapter.close();
    }
  };
}
