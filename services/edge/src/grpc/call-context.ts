// What the two gRPC transports of the edge (native HTTP/2 and grpc-web) share:
// admission, the upstream lookup and session pool, metrics and the logger.
import type { Logger } from '@im-mesh/platform';
import type { Admission } from '../admission/admission.js';
import type { EdgeMetrics } from '../metrics/edge-metrics.js';
import type { UpstreamSessions } from '../routing/upstream-sessions.js';
import type { UpstreamLookup } from '../routing/upstreams.js';

export interface CallContext {
  admission: Admission;
  upstreams: UpstreamLookup;
  sessions: UpstreamSessions;
  metrics: EdgeMetrics;
  logger: Logger;
  /** Largest grpc-web request body, in bytes. */
  maxRequestBytes: number;
  /** False once the edge is shutting down: new calls are refused, open ones go on. */
  isAccepting: () => boolean;
}
