// envoy/envoy.yaml against the edge's own routing table. In production Envoy
// stands where services/edge stands in the embedded mode, so for every method of
// every service in our contracts both must agree: which upstream serves it (or
// that nobody outside may call it), and whether an access token is checked before
// the call goes on. No Envoy binary can run here; this reads the configuration
// the way Envoy matches it (first matching route, first matching JWT rule).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import * as contracts from '@im-mesh/contracts';
import { parse } from 'yaml';
import { routeOf } from '../../services/edge/src/routing/method-routes.js';

interface Match {
  prefix?: string;
  path?: string;
}
interface Route {
  match: Match;
  route?: { cluster: string; timeout?: string };
  direct_response?: { status: number };
}
interface JwtRule {
  match: Match;
  requires?: { provider_name: string };
}
interface Cluster {
  name: string;
  load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> };
}

const envoy = parse(readFileSync(new URL('../../envoy/envoy.yaml', import.meta.url), 'utf8'), { maxAliasCount: -1 }) as {
  static_resources: {
    listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: Record<string, unknown> }> }> }>;
    clusters: Cluster[];
  };
};
const manager = envoy.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config as {
  route_config: { virtual_hosts: Array<{ routes: Route[] }> };
  http_filters: Array<{ name: string; typed_config: Record<string, unknown> }>;
};
const routes = manager.route_config.virtual_hosts[0]!.routes;
const jwt = manager.http_filters.find((filter) => filter.name === 'envoy.filters.http.jwt_authn')!.typed_config as {
  providers: Record<string, { issuer: string; audiences: string[] }>;
  rules: JwtRule[];
};
const clusters = new Map(envoy.static_resources.clusters.map((cluster) => [cluster.name, cluster]));

const matches = (match: Match, path: string): boolean =>
  match.path !== undefined ? match.path === path : match.prefix !== undefined && path.startsWith(match.prefix);

/** Every method path of every service our contracts define: "/im.auth.v1.AuthService/Login", ... */
function allMethodPaths(): string[] {
  const paths: string[] = [];
  for (const namespace of Object.values(contracts) as Array<Record<string, unknown>>) {
    for (const value of Object.values(namespace)) {
      const definition = value as { fullName?: unknown; methods?: Record<string, { name: string }> };
      if (typeof definition?.fullName !== 'string' || typeof definition.methods !== 'object') continue;
      for (const method of Object.values(definition.methods)) paths.push(`/${definition.fullName}/${method.name}`);
    }
  }
  return [...new Set(paths)].sort();
}

/** The edge's upstream names and Envoy's cluster names for them. */
const CLUSTER_OF_UPSTREAM = { auth: 'auth', core: 'core', connect: 'connect' } as const;

describe('envoy/envoy.yaml agrees with the edge (no Envoy binary here: the config is read, not run)', () => {
  const paths = allMethodPaths();

  test('the contracts define the services this test expects to see', () => {
    assert.ok(paths.length > 30, `only ${paths.length} methods found`);
    for (const service of ['im.auth.v1.AuthService', 'im.message.v1.MessageService', 'im.connect.v1.ConnectService', 'im.internal.v1.KeyService']) {
      assert.ok(paths.some((path) => path.startsWith(`/${service}/`)), `${service} missing`);
    }
  });

  test('every method goes to the upstream the edge picks, and every method the edge refuses is refused by Envoy', () => {
    const disagreements: string[] = [];
    for (const path of paths) {
      const edge = routeOf(path);
      const route = routes.find((candidate) => matches(candidate.match, path));
      const envoyCluster = route?.route?.cluster;
      if (edge) {
        if (envoyCluster !== CLUSTER_OF_UPSTREAM[edge.upstream]) disagreements.push(`${path}: edge -> ${edge.upstream}, envoy -> ${envoyCluster ?? 'refused'}`);
      } else if (!route?.direct_response || route.direct_response.status < 400) {
        disagreements.push(`${path}: the edge refuses it, envoy -> ${envoyCluster ?? 'nothing'}`);
      }
    }
    assert.deepEqual(disagreements, []);
  });

  test('Envoy checks an access token exactly where the edge does', () => {
    const disagreements: string[] = [];
    for (const path of paths) {
      const edge = routeOf(path);
      if (!edge) continue;
      const rule = jwt.rules.find((candidate) => matches(candidate.match, path));
      const envoyRequires = rule?.requires?.provider_name !== undefined;
      if (envoyRequires !== edge.requiresToken) disagreements.push(`${path}: edge requires a token: ${edge.requiresToken}, envoy: ${envoyRequires}`);
    }
    assert.deepEqual(disagreements, []);
    assert.ok(!jwt.rules.find((rule) => matches(rule.match, '/ws'))?.requires, 'connect checks the WebSocket token before the upgrade');
  });

  test('streams have no route timeout; internal services are never reachable', () => {
    for (const path of ['/im.connect.v1.ConnectService/Connect', '/im.connect.v1.ConnectService/Subscribe', '/ws']) {
      const route = routes.find((candidate) => matches(candidate.match, path));
      assert.equal(route?.route?.timeout, '0s', `${path} would be cut by a route timeout`);
    }
    for (const path of ['/im.internal.v1.DeliveryService/ReportDelivered', '/grpc.health.v1.Health/Check', '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo']) {
      assert.equal(routes.find((candidate) => matches(candidate.match, path))?.direct_response?.status, 404, path);
    }
  });

  test('every cluster a route or filter names exists, on the port the service listens on by default', () => {
    const named = new Set([...routes.flatMap((route) => (route.route ? [route.route.cluster] : [])), 'auth_http', 'ratelimit']);
    for (const name of named) assert.ok(clusters.has(name), `cluster ${name} is not defined`);
    const portOf = (name: string) => clusters.get(name)!.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address.port_value;
    assert.deepEqual(
      { auth: portOf('auth'), auth_http: portOf('auth_http'), core: portOf('core'), connect: portOf('connect'), connect_ws: portOf('connect_ws') },
      { auth: 7001, auth_http: 7081, core: 7002, connect: 7003, connect_ws: 7083 },
    );
  });

  test('the token provider checks the issuer and audience the services use by default', () => {
    const provider = Object.values(jwt.providers)[0]!;
    assert.equal(provider.issuer, 'im-mesh');
    assert.deepEqual(provider.audiences, ['im-mesh']);
  });
});
