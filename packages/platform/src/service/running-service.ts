// What every service's start function returns, so the all-in-one and the
// standalone entry points treat services alike.
import type { Registry } from 'prom-client';
import type { LocalUnaryCalls } from '../grpc/local-unary-calls.js';
import type { ReadinessCheck } from '../ops/ops-http.js';

export interface RunningService {
  name: string;
  /** "host:port" of the service's gRPC server, as bound. */
  grpcAddress: string;
  /** "host:port" of the service's HTTP server (ops endpoints, and more per service). */
  httpAddress: string;
  metrics: Registry;
  readiness: ReadinessCheck[];
  /** The service's unary gRPC methods, callable in-process (the all-in-one's edge uses them). */
  localCalls?: LocalUnaryCalls;
  /** Stops accepting, drains work in flight, closes what the service opened. */
  stop(): Promise<void>;
}
