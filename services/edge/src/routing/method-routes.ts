// Which upstream serves a gRPC method, and whether the edge must see a valid access
// token before passing the call on. Routing goes by the service part of the path,
// so a method added to a public service routes without touching the edge; only the
// three public services are reachable (im.internal.v1 never is).
import { authV1, connectV1, fileV1, groupV1, messageV1, userV1 } from '@im-mesh/contracts';
import type { UpstreamName } from './upstreams.js';

export interface MethodRoute {
  /** "/im.auth.v1.AuthService/Login". */
  path: string;
  /** Metrics label: the path for known methods, "/<service>/*" otherwise (bounded cardinality). */
  label: string;
  upstream: Exclude<UpstreamName, 'connectWs'>;
  /** False only for the calls that obtain a token, and Connect, which authenticates in its first frame. */
  requiresToken: boolean;
}

interface PublicService {
  upstream: MethodRoute['upstream'];
  methods: Set<string>;
  open: Set<string>;
}

function publicService(
  definition: { fullName: string; methods: Record<string, { name: string }> },
  upstream: MethodRoute['upstream'],
  open: string[],
): [string, PublicService] {
  const methods = new Set(Object.values(definition.methods).map((method) => method.name));
  for (const name of open) if (!methods.has(name)) throw new Error(`${definition.fullName} has no method ${name}`);
  return [definition.fullName, { upstream, methods, open: new Set(open) }];
}

const PUBLIC_SERVICES = new Map<string, PublicService>([
  publicService(authV1.AuthServiceDefinition, 'auth', [
    'GetLoginKey',
    'Register',
    'Login',
    'RefreshToken',
    'SendSmsCode',
    'RegisterWithSmsCode',
    'LoginWithSmsCode',
    'ResetPasswordWithSmsCode',
  ]),
  publicService(authV1.SessionServiceDefinition, 'auth', []),
  publicService(messageV1.MessageServiceDefinition, 'core', []),
  publicService(groupV1.GroupServiceDefinition, 'core', []),
  publicService(fileV1.FileServiceDefinition, 'core', []),
  publicService(userV1.UserServiceDefinition, 'core', []),
  publicService(connectV1.ConnectServiceDefinition, 'connect', ['Connect']),
]);

/** The label used for paths that are not a public method. */
export const UNROUTED_LABEL = 'unrouted';

/** The route of `path`, or undefined when the edge does not serve it. */
export function routeOf(path: string): MethodRoute | undefined {
  const match = /^\/([A-Za-z0-9_.]+)\/([A-Za-z0-9_]+)$/.exec(path);
  if (!match) return undefined;
  const [, serviceName = '', methodName = ''] = match;
  const service = PUBLIC_SERVICES.get(serviceName);
  if (!service) return undefined;
  return {
    path,
    label: service.methods.has(methodName) ? path : `/${serviceName}/*`,
    upstream: service.upstream,
    // Unknown methods of a public service are protected: new methods are private by default.
    requiresToken: !service.open.has(methodName),
  };
}

/** A sentence explaining why `path` is not served, for grpc-message. */
export function unroutedMessage(path: string): string {
  const shown = path.length > 120 ? `${path.slice(0, 120)}...` : path;
  if (path.startsWith('/im.internal.')) {
    return `The method ${shown} is internal to the service mesh and cannot be called through the edge.`;
  }
  return `The method ${shown} is not served here. Public services: ${[...PUBLIC_SERVICES.keys()].join(', ')}.`;
}
