// HTTP/2 client sessions to the upstreams: one per address, reopened when it
// closes or receives GOAWAY. A session serves many calls at once; only when its
// peer's stream limit is reached (long Subscribe streams add up) does a second
// session to the same address open, so no call waits behind a full connection.
// A dead upstream host must not hang calls: a session that does not finish
// connecting in time is dropped (its calls answer UNAVAILABLE), and a session that
// nothing was heard on for a while is pinged and dropped if the ping goes unanswered.
// A call's stream is opened only once its session has connected, so a connect
// failure means the call never left the edge and may be tried on another instance.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { Logger } from '@im-mesh/platform';

interface PooledSession {
  session: ClientHttp2Session;
  activeStreams: number;
  /** When the upstream last showed it is alive (response headers, a ping answer). */
  lastHeardAt: number;
  /** Settles when the upstream's SETTINGS arrive (resolves) or the session fails first (rejects). */
  ready: Promise<void>;
}

export interface UpstreamSessionLimits {
  /** How long the TCP connect and the upstream's HTTP/2 SETTINGS may take. */
  connectTimeoutMs: number;
  /** A session nothing was heard on for this long gets a ping. */
  pingIntervalMs: number;
  /** How long a ping may go unanswered before the session is dropped. */
  pingTimeoutMs: number;
}

export class UpstreamSessions {
  private readonly pools = new Map<string, PooledSession[]>();
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly limits: UpstreamSessionLimits,
  ) {}

  /**
   * Opens a stream to `address` ("host:port") once a session to it has connected.
   * Rejects when the connection cannot be made (refused, reset, no HTTP/2 within
   * connectTimeoutMs): nothing was sent upstream then. Failures after that
   * surface as an 'error' (or an early 'close') on the returned stream.
   */
  async open(address: string, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream> {
    if (this.closed) throw new Error('the edge is shutting down');
    const pooled = this.sessionFor(address);
    // Reserved before waiting, so calls arriving while the session connects
    // count against its stream limit too.
    pooled.activeStreams += 1;
    let stream: ClientHttp2Stream;
    try {
      await pooled.ready;
      if (this.closed) throw new Error('the edge is shutting down');
      // Throws when the session went away (GOAWAY, reset) between connecting and now.
      stream = pooled.session.request(headers, { endStream: false });
    } catch (error) {
      pooled.activeStreams -= 1;
      throw error;
    }
    stream.once('response', () => {
      pooled.lastHeardAt = Date.now();
    });
    stream.once('close', () => {
      pooled.activeStreams -= 1;
    });
    return stream;
  }

  /**
   * Stops using the sessions to `address` (an instance that left the registry):
   * calls already on them finish, new calls to it open a fresh session.
   */
  release(address: string): void {
    const pool = this.pools.get(address);
    this.pools.delete(address);
    for (const { session } of pool ?? []) if (!session.closed && !session.destroyed) session.close();
  }

  /** Closes every session; calls in flight are cancelled. */
  close(): void {
    this.closed = true;
    for (const pool of this.pools.values()) for (const { session } of pool) session.destroy();
    this.pools.clear();
  }

  private sessionFor(address: string): PooledSession {
    const pool = this.pools.get(address) ?? [];
    this.pools.set(address, pool);
    for (const pooled of pool) {
      const limit = pooled.session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
      if (!pooled.session.closed && !pooled.session.destroyed && pooled.activeStreams < limit) return pooled;
    }
    const session = connect(`http://${address}`);
    // Streams keep the default 64 KiB window (bounded memory per slow reader), but
    // the connection gets a larger one so one slow reader cannot stall the others.
    session.once('connect', () => session.setLocalWindowSize(8 << 20));
    const ready = new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
      session.once('close', () => reject(new Error(`the connection to ${address} closed before it was ready`)));
    });
    // Nobody may be waiting when a session fails; the failure is handled below.
    ready.catch(() => undefined);
    const pooled: PooledSession = { session, activeStreams: 0, lastHeardAt: Date.now(), ready };
    const forget = () => {
      const index = pool.indexOf(pooled);
      if (index >= 0) pool.splice(index, 1);
    };
    this.watch(pooled, address, forget);
    session.on('error', (error: Error) => {
      // Each stream on the session reports the failure to its own caller; the
      // session itself only needs forgetting so the next call reconnects.
      this.logger.debug({ err: error, upstream: address }, 'upstream session failed');
      forget();
    });
    session.on('goaway', (code: number) => {
      if (code !== constants.NGHTTP2_NO_ERROR) this.logger.warn({ upstream: address, code }, 'upstream sent GOAWAY');
      forget();
    });
    session.on('close', forget);
    pool.push(pooled);
    return pooled;
  }

  /** Connect timeout and ping keepalive for one session; both drop it on failure. */
  private watch(pooled: PooledSession, address: string, forget: () => void): void {
    const { session } = pooled;
    const drop = (reason: string) => {
      if (session.destroyed) return;
      this.logger.warn({ upstream: address }, reason);
      forget();
      // Destroying with an error fails every stream on the session, so each call
      // answers UNAVAILABLE instead of waiting for a host that is gone.
      session.destroy(new Error(reason));
    };

    // 'remoteSettings' rather than 'connect': an upstream that accepts TCP but never
    // speaks HTTP/2 (a hung process, the wrong port) is as useless as one that is down.
    const connectTimer = setTimeout(() => drop('upstream did not complete the HTTP/2 connection in time'), this.limits.connectTimeoutMs);
    connectTimer.unref();
    session.once('remoteSettings', () => {
      clearTimeout(connectTimer);
      pooled.lastHeardAt = Date.now();
    });

    let pingInFlight = false;
    const pingTimer = setInterval(() => {
      if (pingInFlight || session.connecting || session.closed || session.destroyed) return;
      if (Date.now() - pooled.lastHeardAt < this.limits.pingIntervalMs) return;
      pingInFlight = true;
      const unanswered = setTimeout(() => drop('upstream did not answer a ping in time'), this.limits.pingTimeoutMs);
      unanswered.unref();
      let sent = false;
      try {
        sent = session.ping((error) => {
          pingInFlight = false;
          clearTimeout(unanswered);
          if (error) drop('upstream ping failed');
          else pooled.lastHeardAt = Date.now();
        });
      } catch {
        // The session went away between the check and the ping.
      }
      if (!sent) {
        // Too many pings outstanding (node's limit), or no session left: drop it either way.
        pingInFlight = false;
        clearTimeout(unanswered);
        drop('upstream ping could not be sent');
      }
    }, Math.max(Math.floor(this.limits.pingIntervalMs / 2), 10));
    pingTimer.unref();

    session.once('close', () => {
      clearTimeout(connectTimer);
      clearInterval(pingTimer);
    });
  }
}
