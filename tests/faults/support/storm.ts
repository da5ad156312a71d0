// A bounded send storm: each sender sends to its peer at a steady pace, with a
// few sends in flight at most, until the time or message budget is spent; then
// it waits for the sends still running. Faults are injected while it runs.
import type { History, TrackedDevice } from './history.js';
import type { Fleet } from './fleet.js';

export interface Sender {
  readonly device: TrackedDevice;
  readonly toUserId: string;
}

export interface StormOptions {
  /** No new send starts after this long, in ms. */
  durationMs: number;
  /** One send per sender every this many ms (when the window allows). */
  intervalMs: number;
  /** Sends in flight per sender at most. Default 3. */
  window?: number;
  /** Sends per sender at most. */
  maxPerSender?: number;
}

export async function runStorm(history: History, senders: readonly Sender[], options: StormOptions): Promise<void> {
  const end = Date.now() + options.durationMs;
  const window = options.window ?? 3;
  await Promise.all(
    senders.map(async (sender) => {
      const running = new Set<Promise<unknown>>();
      let sent = 0;
      while (Date.now() < end && sent < (options.maxPerSender ?? Infinity)) {
        if (running.size < window) {
          const send: Promise<unknown> = history.send(sender.device, sender.toUserId).finally(() => running.delete(send));
          running.add(send);
          sent += 1;
        }
        await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
      }
      await Promise.all(running);
    }),
  );
}

/**
 * The usual senders: user i's first device writes to user i+1 and user i+1's
 * second device (or first) writes back, so every conversation has two writers
 * on different nodes and every user's devices receive.
 */
export function ringSenders(fleet: Fleet): Sender[] {
  const users = fleet.users;
  return users.flatMap((user, i) => {
    const peer = users[(i + 1) % users.length]!;
    const back = peer.devices[1] ?? peer.devices[0]!;
    return [
      { device: user.devices[0]!, toUserId: peer.userId },
      { device: back, toUserId: user.userId },
    ];
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `done()` holds; fails naming `what` after `timeoutMs`. Resolves to the time it took, in ms. */
export async function until(what: string, done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await done())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}
