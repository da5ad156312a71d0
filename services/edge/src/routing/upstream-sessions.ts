// HTTP/2 client sessions to the upstreams: one per address, reopened when it
// closes or receives GOAWAY. A session serves many calls at once; only when its
// peer's stream limit is reached (long Subscribe streams add up) does a second
// session to the same address open, so no call waits behind a full connection.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { Logger } from '@im-mesh/platform';

interface PooledSession {
  session: ClientHttp2Session;
  activeStreams: number;
}

export class UpstreamSessions {
  private readonly pools = new Map<string, PooledSession[]>();
  private closed = false;

  constructor(private readonly logger: Logger) {}

  /**
   * Opens a stream to `address` ("host:port"). Connection failures surface as an
   * 'error' (or an early 'close') on the returned stream.
   */
  request(address: string, headers: OutgoingHttpHeaders): ClientHttp2Stream {
    if (this.closed) throw new Error('the edge is shutting down');
    const pooled = this.sessionFor(address);
    const stream = pooled.session.request(headers, { endStream: false });
    pooled.activeStreams += 1;
    stream.once('close', () => {
      pooled.activeStreams -= 1;
    });
    return stream;
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
    const pooled: PooledSession = { session, activeStreams: 0 };
    const forget = () => {
      const index = pool.indexOf(pooled);
      if (index >= 0) pool.splice(index, 1);
    };
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
}
