// Talking to a Consul agent's HTTP API, shared by ConsulServiceRegistry and the
// KV settings watch: opening a client (npm `consul`) and the blocking-query loop
// Consul's "Blocking Queries" page asks every client to implement: follow
// X-Consul-Index, never block on index 0, cope with an index that goes
// backwards, rate-limit under churn, back off on errors, and stop at once.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Consul from 'consul';

/** The local agent's HTTP API, Consul's default. */
export const DEFAULT_CONSUL_URL = 'http://127.0.0.1:8500';

export interface ConsulConnectionOptions {
  /** The agent's HTTP API, e.g. "http://127.0.0.1:8500" (the default). Port 8500 when none is given. */
  url?: string;
  /** ACL token sent as X-Consul-Token when the agent enforces ACLs. */
  token?: string;
}

export type ConsulClient = InstanceType<typeof Consul>;

/** A client for one agent. Call `destroy()` when done: it holds keep-alive sockets. */
export function openConsulClient(options: ConsulConnectionOptions = {}): ConsulClient {
  const raw = options.url ?? DEFAULT_CONSUL_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`The Consul address "${raw}" is not a URL such as ${DEFAULT_CONSUL_URL}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`The Consul address "${raw}" must start with http:// or https://.`);
  }
  return new Consul({
    host: url.hostname,
    port: url.port ? Number(url.port) : 8500,
    secure: url.protocol === 'https:',
    ...(options.token ? { defaults: { token: options.token } } : {}),
  });
}

/**
 * Runs an idempotent call, once more if it failed on a kept-alive socket the
 * agent had already closed (it restarted, or dropped an idle connection just as
 * it was reused): that failure says nothing about the agent, and repeating a
 * registration, a deregistration or a read is harmless.
 */
export async function retryOnStaleConnection<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw error;
    return await call();
  }
}

export interface BlockingQueryOptions {
  /** Longest one query blocks, in ms (Consul adds up to 1/16 as jitter). 30 s by default; Consul caps it at 10 min. */
  waitMs?: number;
  /** Pause after the first failed query, in ms, doubled per failure (with jitter). 200 ms by default. */
  initialBackoffMs?: number;
  /** Longest pause between failed queries, in ms. 10 s by default. */
  maxBackoffMs?: number;
  /**
   * Under churn, at most one query per this many ms after a burst of two (a
   * token bucket, as Consul's docs advise, so a flapping value cannot turn the
   * loop into a busy loop). 1 s by default.
   */
  minQueryIntervalMs?: number;
}

/** What the loop passes to each read: the documented `index`, `wait`, `timeout` and `ctx` call options. */
export interface BlockingCallOptions {
  index: string;
  wait: string;
  timeout: number;
  ctx: EventEmitter;
}

export interface BlockingQueryHooks {
  /** Told about every failed query and how long the loop pauses before the next. */
  onError?: (error: unknown, failures: number, retryInMs: number) => void;
}

interface ConsulResponse {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Runs `read` as a blocking query until the returned stop is called, and hands
 * every answer whose X-Consul-Index moved (and the first one) to `onAnswer`.
 * An answer is no guarantee of a change (Consul's docs say so), so callers
 * compare what they derive from it. After a failure the next query asks with
 * index 0: the agent may have restarted without its state, and a query with our
 * old, now higher index would block for the whole wait instead of answering.
 * Stopping aborts the query in flight; `onAnswer` is never called afterwards.
 */
export function followBlockingQuery(
  read: (options: BlockingCallOptions) => Promise<unknown>,
  onAnswer: (body: unknown) => void,
  options: BlockingQueryOptions & BlockingQueryHooks = {},
): () => void {
  const waitMs = options.waitMs ?? 30_000;
  const initialBackoffMs = options.initialBackoffMs ?? 200;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const bucket = new TokenBucket(2, options.minQueryIntervalMs ?? 1_000);
  // The consul client returns [response, body] instead of the body when the
  // call's ctx says includeResponse; that is how its own Watch reads
  // X-Consul-Index. Emitting `cancel` on ctx aborts the request in flight.
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
  const stopping = new AbortController();
  let stopped = false;

  const loop = async (): Promise<void> => {
    let index = 0n;
    let failures = 0;
    while (!stopped) {
      try {
        await bucket.take(stopping.signal);
        const answer = (await read({
          index: index.toString(),
          wait: `${waitMs}ms`,
          // Consul may hold the query wait + wait/16; past that (plus a margin for
          // a slow network) the agent is gone, not just quiet.
          timeout: waitMs + Math.ceil(waitMs / 16) + 5_000,
          ctx,
        })) as [ConsulResponse, unknown?];
        if (stopped) return;
        const [response, body] = answer;
        const next = parseIndex(response.headers['x-consul-index']);
        if (next === undefined) throw new Error('Consul answered without a usable X-Consul-Index header');
        failures = 0;
        const moved = index === 0n || next !== index;
        // Blocking on the answer's own index also covers an index that went
        // backwards (Consul's docs: reset rather than wait on a stale, higher
        // one); a zero index is raised to 1 so the next query still blocks.
        index = next > 0n ? next : 1n;
        if (moved) onAnswer(body);
      } catch (error) {
        if (stopped) return;
        failures += 1;
        index = 0n;
        const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(failures - 1, 20));
        const pause = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
        try {
          options.onError?.(error, failures, pause);
        } catch {
          // A failing log line must not end the watch.
        }
        await sleep(pause, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    }
  };
  // Every failure inside the loop is caught there (an exception from onAnswer
  // counts as a failed round), so the promise never rejects.
  void loop();

  return () => {
    if (stopped) return;
    stopped = true;
    stopping.abort();
    ctx.emit('cancel');
  };
}

function parseIndex(header: string | string[] | undefined): bigint | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return BigInt(value);
}

/** A token bucket: `capacity` queries at once, then one per `intervalMs`. */
class TokenBucket {
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    private readonly capacity: number,
    private readonly intervalMs: number,
  ) {
    this.tokens = capacity;
  }

  async take(signal: AbortSignal): Promise<void> {
    this.refill();
    if (this.tokens < 1) {
      await sleep(Math.ceil((1 - this.tokens) * this.intervalMs), undefined, { signal });
      this.refill();
    }
    this.tokens = Math.max(0, this.tokens - 1);
  }

  private refill(): void {
    const now = Date.now();
    if (this.intervalMs > 0) this.tokens = Math.min(this.capacity, this.tokens + (now - this.refilledAt) / this.intervalMs);
    else this.tokens = this.capacity;
    this.refilledAt = now;
  }
}
