// Prometheus metrics of a connect node: live connections, frames each way, acks
// waiting to reach core, and what was lost on purpose (dropped reports, closes by
// reason), in the service's own registry.
import { createServiceRegistry } from '@im-mesh/platform';
import { Counter, Gauge, type Registry } from 'prom-client';

export class ConnectMetrics {
  readonly registry: Registry;
  /** Authenticated connections on this node, by transport. */
  readonly liveConnections: Gauge<'transport'>;
  readonly framesIn: Counter<'transport' | 'kind'>;
  readonly framesOut: Counter<'transport' | 'kind'>;
  /** Delivery watermarks collected from acks and not yet accepted by core. */
  readonly acksPending: Gauge;
  /** Watermarks dropped: the buffer was full while core was unreachable, or core refused their batch. */
  readonly deliveryReportsDropped: Counter;
  /** Push targets skipped: not connected here any more, or a bus duplicate. */
  readonly pushTargetsSkipped: Counter<'reason'>;
  readonly closes: Counter<'transport' | 'reason'>;

  constructor() {
    this.registry = createServiceRegistry('connect');
    const registers = [this.registry];
    this.liveConnections = new Gauge({
      name: 'connect_live_connections',
      help: 'Authenticated client connections on this node.',
      labelNames: ['transport'],
      registers,
    });
    this.framesIn = new Counter({
      name: 'connect_frames_in_total',
      help: 'Client frames received, by transport and frame kind.',
      labelNames: ['transport', 'kind'],
      registers,
    });
    this.framesOut = new Counter({
      name: 'connect_frames_out_total',
      help: 'Server frames sent, by transport and frame kind.',
      labelNames: ['transport', 'kind'],
      registers,
    });
    this.acksPending = new Gauge({
      name: 'connect_acks_pending',
      help: 'Delivery watermarks waiting to be reported to core.',
      registers,
    });
    this.deliveryReportsDropped = new Counter({
      name: 'connect_delivery_reports_dropped_total',
      help: 'Delivery watermarks dropped: the buffer was full while core was unreachable, or core refused their batch.',
      registers,
    });
    this.pushTargetsSkipped = new Counter({
      name: 'connect_push_targets_skipped_total',
      help: 'Push targets not written: connection gone or replaced, or a duplicate from the bus.',
      labelNames: ['reason'],
      registers,
    });
    this.closes = new Counter({
      name: 'connect_closes_total',
      help: 'Connections closed, by transport and reason.',
      labelNames: ['transport', 'reason'],
      registers,
    });
  }
}
