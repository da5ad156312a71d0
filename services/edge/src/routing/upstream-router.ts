// Where each call through the edge goes: one UpstreamPool per upstream, fed
// live by a ServiceRegistry watch (static addresses or Consul), and the HTTP/2
// session pool the gRPC calls ride on. gRPC calls get a stream on a connected
// session; WebSocket tunnels get a TCP connection to a connect node's HTTP port.
import { constants, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import type { Logger, ServiceRegistry } from '@im-mesh/platform';
import { BrokenCircuitError } from 'cockatiel';
import type { EdgeMetrics } from '../metrics/edge-metrics.js';
import type { CircuitOptions } from './upstream-circuit.js';
import { UpstreamPool, type Connected } from './upstream-pool.js';
import type { UpstreamSessions } from './upstream-sessions.js';
import { EDGE_REGISTRY_SERVICES, UPSTREAM_NAMES, type GrpcUpstreamName, type UpstreamName } from './upstreams.js';

/** What the edge's transports need from routing; tests substitute their own. */
export interface UpstreamRouting {
  /**
   * A stream to a healthy instance of `upstream`, on a connected session.
   * Rejects (UpstreamUnavailableError) when no instance could be reached.
   */
  openStream(upstream: GrpcUpstreamName, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream>;
  /** A TCP connection to a connect node's HTTP port, for a WebSocket tunnel. */
  openTunnel(): Promise<Socket>;
}

export interface UpstreamRouterOptions {
  registry: ServiceRegistry;
  sessions: UpstreamSessions;
  metrics: EdgeMetrics;
  logger: Logger;
  circuit: CircuitOptions;
  /** How long a TCP connect for a tunnel may take, in ms. */
  connectTimeoutMs: number;
}

export class UpstreamRouter implements UpstreamRouting {
  private readonly pools: Record<UpstreamName, UpstreamPool>;
  private readonly stopWatches: Array<() => void> = [];
  private closed = false;

  constructor(private readonly options: UpstreamRouterOptions) {
    const { metrics, logger, sessions } = options;
    const poolFor = (name: UpstreamName) =>
      new UpstreamPool(name, options.circuit, {
        onCircuitState: (address, state, changed) => {
          metrics.circuitState(name, address, state);
          if (!changed || this.closed) return;
          if (state === 'open') {
            logger.warn({ upstream: name, address, openMs: options.circuit.openMs }, 'upstream circuit opened; the instance gets no calls for a while');
          } else if (state === 'closed') {
            logger.info({ upstream: name, address }, 'upstream circuit closed; the instance gets calls again');
          }
        },
        onRemoved: (address) => {
          metrics.forgetCircuit(name, address);
          // Tunnels are plain sockets; only gRPC instances hold pooled sessions.
          if (name !== 'connectWs') sessions.release(address);
        },
        onConnectFailure: (address, error) => {
          if (error instanceof BrokenCircuitError) return;
          logger.warn({ err: error, upstream: name, address }, 'cannot connect to an upstream instance; trying another');
        },
      });
    this.pools = { auth: poolFor('auth'), core: poolFor('core'), connect: poolFor('connect'), connectWs: poolFor('connectWs') };
  }

  /**
   * Watches every upstream's instance list. Resolves once each has been reported,
   * or after `waitMs` (a slow registry must not keep the edge from starting;
   * until it answers, calls get UNAVAILABLE and /readyz says why).
   */
  async start(waitMs = 3_000): Promise<void> {
    const firstReports = UPSTREAM_NAMES.map(
      (name) =>
        new Promise<void>((resolve) => {
          const service = EDGE_REGISTRY_SERVICES[name];
          const stop = this.options.registry.watch(service, (addresses) => {
            if (this.closed) return;
            const before = this.pools[name].addresses().join(',');
            this.pools[name].update(addresses);
            if (addresses.join(',') !== before) this.options.logger.info({ upstream: name, service, addresses }, 'upstream instances changed');
            resolve();
          });
          this.stopWatches.push(stop);
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
    const outcome = await Promise.race([Promise.all(firstReports), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      const missing = UPSTREAM_NAMES.filter((name) => !this.pools[name].hasReport).map((name) => EDGE_REGISTRY_SERVICES[name]);
      this.options.logger.warn({ services: missing }, 'the service registry has not listed these upstreams yet; starting anyway');
    }
  }

  openStream(upstream: GrpcUpstreamName, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream> {
    return this.pools[upstream].open(async (address) => {
      const stream = await this.options.sessions.open(address, headers);
      return { value: stream, outcome: streamOutcome(stream) };
    });
  }

  openTunnel(): Promise<Socket> {
    return this.pools.connectWs.open((address) => connectTunnel(address, this.options.connectTimeoutMs));
  }

  /** The pool of one upstream, for readiness and the JWKS fetch. */
  pool(name: UpstreamName): UpstreamPool {
    return this.pools[name];
  }

  /** Stops watching the registry and closes every upstream session. */
  close(): void {
    this.closed = true;
    for (const stop of this.stopWatches.splice(0)) stop();
    this.options.sessions.close();
    for (const pool of Object.values(this.pools)) pool.close();
  }
}

/**
 * A gRPC stream's transport outcome: any response headers (whatever the gRPC
 * status) show a live upstream; an error or reset before them is a failure. A
 * cancel on a healthy session before the answer is the caller leaving (the
 * proxies cancel the upstream side then), which says nothing bad about the
 * instance: its session did connect.
 */
function streamOutcome(stream: ClientHttp2Stream): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.once('response', () => resolve());
    stream.once('error', reject);
    stream.once('close', () => {
      const { session } = stream;
      if (session && !session.destroyed && stream.rstCode === constants.NGHTTP2_CANCEL) resolve();
      else reject(new Error(`the upstream stream closed before any answer (HTTP/2 code ${stream.rstCode ?? 'none'})`));
    });
  });
}

/** A TCP connection to `address` within `timeoutMs`; its outcome is settled at connect. */
function connectTunnel(address: string, timeoutMs: number): Promise<Connected<Socket>> {
  const index = address.lastIndexOf(':');
  const host = address.slice(0, index).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(address.slice(index + 1));
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`${address} did not accept a connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      // The reject listener stays: a later error is the tunnel's to handle, and
      // rejecting a settled promise is a no-op.
      resolve({ value: socket, outcome: Promise.resolve() });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
