// A @grpc/grpc-js name resolver for `consul:///<service>` targets, so a client
// made with openChannel('consul:///core') balances round-robin over the healthy
// instances a ServiceRegistry reports and follows every change live: grpc-js
// reconnects as instances appear, and stops picking one once it is withdrawn.
//
// Written against the experimental resolver API of grpc-js 1.14, where the
// listener is a single function taking StatusOr values (1.13 passed an object
// with onSuccessfulResolution/onError); platform pins ~1.14 for this reason.
import { experimental, Metadata, status, type ChannelOptions } from '@grpc/grpc-js';
import type { ServiceRegistry } from './service-registry.js';

export const CONSUL_SCHEME = 'consul';

/** grpc-js constructs resolvers itself, so the registry they read is process-wide. */
let installed: ServiceRegistry | undefined;
let schemeRegistered = false;

/**
 * Makes `consul:///<service>` targets resolve through `registry` (normally a
 * ConsulServiceRegistry; any registry works). grpc-js keeps one resolver table
 * per process, so the registry installed last serves channels created from then
 * on. The returned function uninstalls it; channels already open keep following
 * the registry they started with until they close.
 */
export function registerConsulResolver(registry: ServiceRegistry): () => void {
  installed = registry;
  if (!schemeRegistered) {
    experimental.registerResolver(CONSUL_SCHEME, ConsulResolver);
    schemeRegistered = true;
  }
  return () => {
    if (installed === registry) installed = undefined;
  };
}

class ConsulResolver implements experimental.Resolver {
  private readonly service: string;
  private stopWatch: (() => void) | undefined;
  private latest: string[] | undefined;

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
    _options: ChannelOptions,
  ) {
    this.service = serviceOf(target);
  }

  updateResolution(): void {
    // grpc-js asks again whenever its subchannel list changes or a connection
    // fails. The watch already reports every change, so there is nothing new to
    // say; answering anyway would make round_robin rebuild its subchannels,
    // which asks again, in a busy loop.
    if (this.stopWatch) return;
    const registry = installed;
    if (!registry || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(this.service)) {
      const details = registry
        ? `"${this.service}" is not a service name; dial consul:///<service>, e.g. consul:///core`
        : 'no service registry is installed for consul:/// targets (call registerConsulResolver first)';
      process.nextTick(() => this.fail(details));
      return;
    }
    const stop = registry.watch(this.service, (addresses) => {
      this.latest = addresses;
      // Never call the listener from inside updateResolution (grpc-js forbids
      // it), whatever the registry's watch does.
      process.nextTick(() => this.report());
    });
    this.stopWatch = stop;
  }

  destroy(): void {
    this.stopWatch?.();
    this.stopWatch = undefined;
    this.latest = undefined;
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return serviceOf(target);
  }

  private report(): void {
    if (!this.stopWatch || !this.latest) return;
    const endpoints: experimental.Endpoint[] = [];
    for (const address of this.latest) {
      const hostPort = experimental.splitHostPort(address);
      if (hostPort?.port !== undefined) endpoints.push({ addresses: [{ host: hostPort.host, port: hostPort.port }] });
    }
    if (endpoints.length > 0) {
      this.listener(experimental.statusOrFromValue(endpoints), {}, null, '');
      return;
    }
    // No instance. The empty list makes round_robin drop the subchannels of
    // withdrawn instances, but it then sits idle and queues calls until their
    // deadline; the error that follows turns that into UNAVAILABLE at once
    // (round_robin applies an error only when it has no subchannels left), so
    // callers and circuit breakers learn of the outage immediately.
    const details = `no healthy instance of "${this.service}" is registered`;
    this.listener(experimental.statusOrFromValue([]), {}, null, details);
    this.fail(details);
  }

  private fail(details: string): void {
    this.listener(experimental.statusOrFromError({ code: status.UNAVAILABLE, details, metadata: new Metadata() }), {}, null, details);
  }
}

/** "core" from consul:///core (or consul:core). */
function serviceOf(target: experimental.GrpcUri): string {
  return target.path.replace(/^\/+/, '');
}
