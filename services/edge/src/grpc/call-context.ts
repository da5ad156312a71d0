// What the two gRPC transports of the edge (native HTTP/2 and grpc-web) share:
// admission, routing to upstream instances, metrics and the logger.
import type { LocalUnaryCalls, Logger } from '@im-mesh/platform';
import type { Admission } from '../admission/admission.js';
import type { LocalWebSocketUpstream } from '../http/websocket-tunnel.js';
import type { EdgeMetrics } from '../metrics/edge-metrics.js';
import type { UpstreamRouting } from '../routing/upstream-router.js';
import type { GrpcUpstreamName } from '../routing/upstreams.js';

/** Upstream services running in this process, whose unary calls the edge serves in-process. */
export type LocalCallUpstreams = Partial<Record<GrpcUpstreamName, LocalUnaryCalls>>;

export interface CallContext {
  admission: Admission;
  router: UpstreamRouting;
  metrics: EdgeMetrics;
  logger: Logger;
  /** Largest grpc-web request body, in bytes. */
  maxRequestBytes: number;
  /** False once the edge is shutting down: new calls are refused, open ones go on. */
  isAccepting: () => boolean;
  /** A connect node in this process that takes WebSocket upgrades directly (the all-in-one); else they are tunnelled. */
  localWebSockets?: LocalWebSocketUpstream;
  /** Upstreams in this process (the all-in-one): their unary calls skip the HTTP/2 hop. */
  localCalls?: LocalCallUpstreams;
}
