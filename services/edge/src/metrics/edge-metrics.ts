// The edge's Prometheus metrics: calls by route, protocol and final gRPC status,
// upstream failures, the streams open right now, and each upstream instance's circuit.
import { createServiceRegistry } from '@im-mesh/platform';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CIRCUIT_STATE_VALUE, type CircuitStateName } from '../routing/upstream-circuit.js';

export type EdgeProtocol = 'grpc' | 'grpc-web' | 'grpc-web-text' | 'websocket';

/** One call through the edge; `finish` counts it once, whatever path ends it. */
export interface CallRecord {
  finish(route: string, status: string): void;
}

export class EdgeMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<'route' | 'protocol' | 'status'>;
  private readonly upstreamErrors: Counter<'upstream'>;
  private readonly activeStreams: Gauge<'protocol'>;
  private readonly circuits: Gauge<'upstream' | 'address'>;

  constructor() {
    this.registry = createServiceRegistry('edge');
    this.requests = new Counter({
      name: 'edge_requests_total',
      help: 'Calls through the edge, by route, protocol and final gRPC status (or HTTP status for WebSocket upgrades).',
      labelNames: ['route', 'protocol', 'status'],
      registers: [this.registry],
    });
    this.upstreamErrors = new Counter({
      name: 'edge_upstream_errors_total',
      help: 'Calls the edge could not complete because an upstream was unreachable or reset the stream.',
      labelNames: ['upstream'],
      registers: [this.registry],
    });
    this.activeStreams = new Gauge({
      name: 'edge_active_streams',
      help: 'Calls and WebSocket tunnels open through the edge right now.',
      labelNames: ['protocol'],
      registers: [this.registry],
    });
    this.circuits = new Gauge({
      name: 'edge_upstream_circuit_state',
      help: 'Circuit of each upstream instance: 0 closed (gets calls), 1 half-open (one trial call in flight), 2 open (no calls until its period ends).',
      labelNames: ['upstream', 'address'],
      registers: [this.registry],
    });
  }

  callStarted(protocol: EdgeProtocol): CallRecord {
    this.activeStreams.inc({ protocol });
    let finished = false;
    return {
      finish: (route, status) => {
        if (finished) return;
        finished = true;
        this.activeStreams.dec({ protocol });
        this.requests.inc({ route, protocol, status });
      },
    };
  }

  upstreamError(upstream: string): void {
    this.upstreamErrors.inc({ upstream });
  }

  circuitState(upstream: string, address: string, state: CircuitStateName): void {
    this.circuits.set({ upstream, address }, CIRCUIT_STATE_VALUE[state]);
  }

  /** The instance left the registry: its series goes too, so the gauge lists live instances only. */
  forgetCircuit(upstream: string, address: string): void {
    this.circuits.remove({ upstream, address });
  }
}
