// Starts an edge in front of the upstream doubles, with a logger that keeps every
// line (at debug level) so tests can check what was and was not logged.
import { Writable } from 'node:stream';
import { createLogger, MemoryRateLimiter, type LiveSettingsSource, type Logger, type ServiceRegistry } from '@im-mesh/platform';
import {
  loadEdgeConfig,
  startEdgeService,
  type EdgeConfig,
  type LocalCallUpstreams,
  type LocalWebSocketUpstream,
  type Upstreams,
} from '../../src/index.js';
import { TEST_AUDIENCE, TEST_ISSUER } from './token-issuer-double.js';

export interface TestEdge {
  url: string;
  /** "127.0.0.1:port", for gRPC clients. */
  address: string;
  logLines: string[];
  /** The first step of shutdown: no new connections or calls; open ones go on. */
  stopAccepting(): Promise<void>;
  stop(): Promise<void>;
}

/** A logger whose lines land in `lines`. */
export function capturingLogger(service: string, lines: string[], level = 'debug'): Logger {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return createLogger({ service, level, destination });
}

/**
 * Where the edge finds its upstreams: fixed addresses, a registry, or (null)
 * the *_ADDRESS keys of `overrides`.
 */
export type TestUpstreams = Upstreams | { registry: ServiceRegistry } | null;

export async function startTestEdge(
  upstreams: TestUpstreams,
  overrides: Record<string, string> = {},
  settings?: LiveSettingsSource,
  inProcess: {
    /** An in-process connect node taking WebSocket upgrades, as the all-in-one passes. */
    localWebSockets?: LocalWebSocketUpstream;
    /** Upstream services in this process whose unary calls the edge serves in-process, as the all-in-one passes. */
    localCalls?: LocalCallUpstreams;
  } = {},
): Promise<TestEdge> {
  const config: EdgeConfig = loadEdgeConfig({
    EDGE_PORT: '0',
    JWT_ISSUER: TEST_ISSUER,
    JWT_AUDIENCE: TEST_AUDIENCE,
    EDGE_CORS_ORIGINS: 'https://app.example.test',
    EDGE_DRAIN_MS: '200',
    ...overrides,
  });
  const logLines: string[] = [];
  const rateLimiter = new MemoryRateLimiter();
  const where = upstreams === null ? {} : 'registry' in upstreams ? { registry: upstreams.registry } : { upstreams };
  const edge = await startEdgeService({
    config,
    logger: capturingLogger('edge', logLines),
    rateLimiter,
    settings,
    ...where,
    ...inProcess,
  });
  return {
    url: edge.url,
    address: edge.grpcAddress,
    logLines,
    stopAccepting: () => edge.stopAccepting(),
    async stop() {
      await edge.stop();
      await rateLimiter.close();
    },
  };
}
