// What the two gRPC transports of the edge (native HTTP/2 and grpc-web) share:
// admission, routing to upstream instances, metrics and the logger.
import type { Logger } from '@im-mesh/platform';
import type { Admission } from '../admission/admission.js';
import type { LocalWebSocketUpstream } from '../http/websocket-tunnel.js';
import type { EdgeMetrics } from '../metrics/edge-metrics.js';
import type { UpstreamRouting } from '../routing/upstream-router.js';

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
}
