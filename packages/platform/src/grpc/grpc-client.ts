// gRPC clients for service-to-service calls. Every unary call carries a deadline
// (the caller's, or the default here), so a stuck upstream turns into
// DEADLINE_EXCEEDED instead of a request that hangs forever.
import {
  createChannel,
  createClientFactory,
  type Channel,
  type Client,
  type ClientMiddleware,
  type CompatServiceDefinition,
} from 'nice-grpc';
import { deadlineMiddleware, type DeadlineOptions } from 'nice-grpc-client-middleware-deadline';
import { adminV1 } from '@im-mesh/contracts';
import { ServiceTokenSource, serviceTokenMiddleware, type ServiceCredentials } from '../auth/service-token-source.js';

export interface GrpcClientOptions {
  /** Deadline for unary calls that do not set one, in milliseconds. 5 s by default. */
  defaultDeadlineMs?: number;
  /** Largest message either way, in bytes. 4 MiB by default. */
  maxMessageBytes?: number;
  /** For internal calls: every call carries this process's service token. */
  serviceToken?: ServiceTokenSource | undefined;
}

/** Sets `deadline` (relative, in ms) on unary calls that have none. */
function defaultDeadline(ms: number): ClientMiddleware<{ deadline?: Date | number }> {
  return async function* (call, options) {
    const unary = !call.requestStream && !call.responseStream;
    const withDeadline = unary && options.deadline === undefined ? { ...options, deadline: ms } : options;
    return yield* call.next(call.request, withDeadline);
  };
}

export interface ServiceChannel {
  channel: Channel;
  close(): void;
}

/** Opens a channel to `address` ("host:port" or any grpc-js target such as "dns:///core:7002"). */
export function openChannel(address: string, options: GrpcClientOptions = {}): ServiceChannel {
  const maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  const channel = createChannel(address, undefined, {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  });
  return { channel, close: () => channel.close() };
}

export function createServiceClient<S extends CompatServiceDefinition>(
  definition: S,
  channel: Channel,
  options: GrpcClientOptions = {},
): Client<S, DeadlineOptions> {
  // The middleware added last runs first: the default deadline must be set before
  // deadlineMiddleware turns it into a real one.
  const factory = createClientFactory()
    .use(deadlineMiddleware)
    .use(defaultDeadline(options.defaultDeadlineMs ?? 5_000));
  return (options.serviceToken ? factory.use(serviceTokenMiddleware(options.serviceToken)) : factory).create(definition, channel);
}

/** A service token source for `credentials`, exchanged at auth's ServiceTokenService over `authChannel`. */
export function serviceTokenSourceFor(authChannel: Channel, credentials: ServiceCredentials): ServiceTokenSource {
  const issuer = createServiceClient(adminV1.ServiceTokenServiceDefinition, authChannel);
  return new ServiceTokenSource((request) => issuer.issueServiceToken(request), credentials);
}
