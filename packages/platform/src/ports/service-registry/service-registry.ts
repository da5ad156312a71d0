// ServiceRegistry: where the instances of each service are, and this instance's
// own announcement.
//
// Contract (every adapter passes service-registry.contract.ts):
// - `register` announces an instance (name, id, address); `deregister` withdraws
//   it. Both are idempotent.
// - `resolve` returns the addresses ("host:port") of healthy instances of a
//   service, possibly empty; `watch` calls back with the full list whenever it
//   changes, first with the current list, until the returned stop is called.
// - The static adapter answers from configuration and ignores registrations of
//   other instances (it knows only what it was told).

export interface ServiceInstance {
  service: string;
  id: string;
  /** "host:port" of the instance's server. */
  address: string;
  /**
   * How a registry that probes health checks this instance: `grpc` (its
   * grpc.health.v1 service, the default) or `http` (GET /healthz answers 200),
   * for plain HTTP endpoints such as connect's WebSocket port.
   */
  health?: 'grpc' | 'http';
}

export interface ServiceRegistry {
  register(instance: ServiceInstance): Promise<void>;
  deregister(instance: ServiceInstance): Promise<void>;
  resolve(service: string): Promise<string[]>;
  watch(service: string, onChange: (addresses: string[]) => void): () => void;
  close(): Promise<void>;
}
