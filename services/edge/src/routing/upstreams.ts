// The upstream services the edge talks to, and the service names under which a
// ServiceRegistry lists their instances. The registry knows gRPC addresses only,
// so connect nodes announce their HTTP address (where the WebSocket endpoint /ws
// lives) as a second service, `connect-ws`; see EDGE_REGISTRY_SERVICES.
import { StaticServiceRegistry } from '@im-mesh/platform';

/**
 * "host:port" of each upstream the edge talks to. Each value may list several
 * instances separated by commas ("10.0.0.5:7002,10.0.0.6:7002").
 */
export interface Upstreams {
  auth: string;
  core: string;
  connect: string;
  /** The connect node's HTTP address, where the WebSocket endpoint /ws lives. */
  connectWs: string;
}

export type UpstreamName = keyof Upstreams;

/** The upstreams reached with gRPC calls (the WebSocket upstream is a plain TCP tunnel). */
export type GrpcUpstreamName = Exclude<UpstreamName, 'connectWs'>;

export const UPSTREAM_NAMES: readonly UpstreamName[] = ['auth', 'core', 'connect', 'connectWs'];

/**
 * The registry service name of each upstream. Every connect node registers two
 * instances: `{ service: 'connect', id: <node id>, address: <gRPC host:port> }`
 * and `{ service: 'connect-ws', id: '<node id>-ws', address: <HTTP host:port> }`
 * (CONNECT_HOST with CONNECT_HTTP_PORT, the port serving /ws and /healthz).
 */
export const EDGE_REGISTRY_SERVICES: Readonly<Record<UpstreamName, string>> = {
  auth: 'auth',
  core: 'core',
  connect: 'connect',
  connectWs: 'connect-ws',
};

/** A registry answering from fixed addresses (comma-separated lists allowed), for static mode. */
export function staticUpstreamRegistry(upstreams: Readonly<Record<UpstreamName, string | readonly string[]>>): StaticServiceRegistry {
  const byService: Record<string, string | readonly string[]> = {};
  for (const name of UPSTREAM_NAMES) byService[EDGE_REGISTRY_SERVICES[name]] = upstreams[name];
  return StaticServiceRegistry.fromConfig(byService);
}
