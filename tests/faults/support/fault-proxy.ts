// A small TCP fault proxy on loopback, switchable at runtime, for fault tests:
// pass-through, added latency, blackhole (bytes accepted and silently dropped in
// one or both directions), reset of every connection, refusal of new ones. It
// also stands in for a load balancer: it has a list of upstream targets and
// dials them in order ('ordered': the first that accepts, as a health-checked
// LB with a preferred backend) or in turn ('round-robin').
//
// Directions are named from the client's side: 'to-upstream' is what the client
// sends, 'to-client' is what the upstream answers (for AMQP, broker -> client
// carries the publisher confirms).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ProxyTarget {
  host: string;
  port: number;
}

export type BlackholeDirection = 'both' | 'to-upstream' | 'to-client';
export type TargetPolicy = 'ordered' | 'round-robin';

export interface FaultProxyOptions {
  /** Upstreams as "host:port" or objects. May be empty until setTargets(). */
  targets: ReadonlyArray<string | ProxyTarget>;
  policy?: TargetPolicy;
  /** Shown in errors. */
  name?: string;
  /** How long dialing one upstream may take before the next is tried, in ms. Default 1,000. */
  dialTimeoutMs?: number;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  target: ProxyTarget | undefined;
  /** Bytes of this connection were dropped: the stream has a hole and can never be resumed. */
  holed: boolean;
  /** When the next chunk of each direction may be written (keeps order when latency changes). */
  dueToUpstream: number;
  dueToClient: number;
}

export function parseTarget(target: string | ProxyTarget): ProxyTarget {
  if (typeof target !== 'string') return target;
  const colon = target.lastIndexOf(':');
  if (colon < 0) throw new Error(`target "${target}" is not host:port`);
  return { host: target.slice(0, colon), port: Number(target.slice(colon + 1)) };
}

export class FaultProxy {
  private targets: ProxyTarget[];
  private readonly pairs = new Set<Pair>();
  private latencyMs = 0;
  private hole: BlackholeDirection | undefined;
  private refusing = false;
  private nextIndex = 0;
  /** Bytes dropped by blackholes since start, per direction. */
  readonly dropped = { toUpstream: 0, toClient: 0 };
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: FaultProxyOptions,
  ) {
    this.targets = options.targets.map(parseTarget);
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ pauseOnConnect: true });
    const proxy = new FaultProxy(server, options);
    server.on('connection', (socket) => proxy.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  /** "127.0.0.1:<port>" */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get connectionCount(): number {
    return this.pairs.size;
  }

  /** Upstreams of the live connections, as "host:port" (for finding which backend serves whom). */
  liveTargets(): string[] {
    return [...this.pairs].flatMap((pair) => (pair.target && pair.upstream ? [`${pair.target.host}:${pair.target.port}`] : []));
  }

  /** Replaces the upstream list; live connections keep their upstream. */
  setTargets(targets: ReadonlyArray<string | ProxyTarget>): void {
    this.targets = targets.map(parseTarget);
    this.nextIndex = 0;
  }

  /** Adds `ms` of delay to every chunk in both directions (0 removes it). */
  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Drops bytes in `direction` silently, on live and new connections alike, until heal(). */
  blackhole(direction: BlackholeDirection = 'both'): void {
    this.hole = direction;
  }

  /** New connections are reset as soon as they arrive (the client sees ECONNRESET), until heal(). */
  refuse(): void {
    this.refusing = true;
  }

  /** Resets every live connection (RST to both sides). */
  resetAll(): void {
    for (const pair of [...this.pairs]) this.reset(pair);
  }

  /**
   * Back to plain pass-through: no latency, no blackhole, new connections taken.
   * Connections that lost bytes to a blackhole are reset: a byte stream with a
   * hole in it would only be misparsed by its peers, and a real partition that
   * outlives the peers' heartbeats ends those connections the same way.
   */
  heal(): void {
    this.latencyMs = 0;
    this.hole = undefined;
    this.refusing = false;
    for (const pair of [...this.pairs]) if (pair.holed) this.reset(pair);
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined, target: undefined, holed: false, dueToUpstream: 0, dueToClient: 0 };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', (hadError) => this.closeSide(pair, 'to-upstream', hadError));
    void this.dial(pair);
  }

  /** Tries the upstreams in policy order; the first that accepts gets the connection. */
  private async dial(pair: Pair): Promise<void> {
    const order = this.dialOrder();
    for (const target of order) {
      if (pair.client.destroyed) return;
      const upstream = await this.tryConnect(target);
      if (upstream === undefined) continue;
      if (pair.client.destroyed) {
        upstream.destroy();
        return;
      }
      pair.upstream = upstream;
      pair.target = target;
      upstream.on('close', (hadError) => this.closeSide(pair, 'to-client', hadError));
      pair.client.on('data', (chunk: Buffer) => this.forward(pair, chunk, 'to-upstream'));
      upstream.on('data', (chunk: Buffer) => this.forward(pair, chunk, 'to-client'));
      pair.client.resume();
      return;
    }
    // No upstream would take it: the client sees its connection reset, like a refusal.
    this.reset(pair);
  }

  private dialOrder(): ProxyTarget[] {
    const targets = this.targets;
    if (targets.length === 0) return [];
    if (this.options.policy !== 'round-robin') return [...targets];
    const start = this.nextIndex % targets.length;
    this.nextIndex = (start + 1) % targets.length;
    return [...targets.slice(start), ...targets.slice(0, start)];
  }

  private tryConnect(target: ProxyTarget): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const socket = connect({ host: target.host, port: target.port });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(undefined);
      }, this.options.dialTimeoutMs ?? 1_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        resolve(socket);
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  private forward(pair: Pair, chunk: Buffer, direction: 'to-upstream' | 'to-client'): void {
    if (this.hole === 'both' || this.hole === direction) {
      pair.holed = true;
      if (direction === 'to-upstream') this.dropped.toUpstream += chunk.length;
      else this.dropped.toClient += chunk.length;
      return;
    }
    const destination = direction === 'to-upstream' ? pair.upstream : pair.client;
    if (destination === undefined || destination.destroyed) return;
    if (this.latencyMs === 0 && (direction === 'to-upstream' ? pair.dueToUpstream : pair.dueToClient) <= Date.now()) {
      destination.write(chunk);
      return;
    }
    // Delayed, but never ahead of a chunk delayed earlier.
    const previous = direction === 'to-upstream' ? pair.dueToUpstream : pair.dueToClient;
    const due = Math.max(Date.now() + this.latencyMs, previous);
    if (direction === 'to-upstream') pair.dueToUpstream = due;
    else pair.dueToClient = due;
    setTimeout(() => {
      if (!destination.destroyed) destination.write(chunk);
    }, due - Date.now());
  }

  /**
   * One side closed: the other side follows, with a reset if the first one was
   * reset, or with a FIN after the chunks still delayed towards it. (A close is
   * passed on even through a blackhole: the peers' heartbeats would end the
   * connection soon anyway, and nothing is left dangling.)
   */
  private closeSide(pair: Pair, towards: 'to-upstream' | 'to-client', hadError: boolean): void {
    if (!this.pairs.has(pair)) return;
    this.pairs.delete(pair);
    const other = towards === 'to-upstream' ? pair.upstream : pair.client;
    if (other === undefined || other.destroyed) return;
    if (hadError) {
      other.resetAndDestroy();
      return;
    }
    const pendingMs = (towards === 'to-upstream' ? pair.dueToUpstream : pair.dueToClient) - Date.now();
    if (pendingMs <= 0) other.end();
    else setTimeout(() => other.end(), pendingMs + 1);
  }

  private reset(pair: Pair): void {
    this.pairs.delete(pair);
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (pair.upstream && !pair.upstream.destroyed) pair.upstream.resetAndDestroy();
  }
}
