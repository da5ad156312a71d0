// Prometheus metrics. Each service owns a Registry with a `service` label; the
// process-wide default metrics (CPU, heap, event loop lag) are collected once into
// a registry of their own, so the all-in-one can merge everything without clashes.
import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

/** The registry holding Node process metrics, created on first use. */
export function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createServiceRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  return registry;
}

/**
 * Every metric of the given registries in the Prometheus text format. Each
 * registry renders itself (Registry.merge would drop the `service` default
 * label); metric names are prefixed per service, so the texts never collide.
 */
export async function renderMetrics(registries: Registry[]): Promise<{ contentType: string; body: string }> {
  const unique = [...new Set([processMetricsRegistry(), ...registries])];
  const texts = await Promise.all(unique.map((registry) => registry.metrics()));
  return { contentType: processMetricsRegistry().contentType, body: texts.join('\n') };
}
