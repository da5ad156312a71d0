// gRPC server bootstrap shared by every service: message size limits, keepalive
// policy, the error boundary, INVALID_ARGUMENT for requests that do not decode,
// grpc.health.v1 and server reflection on every server.
import { readFileSync } from 'node:fs';
import { descriptorSetPath } from '@im-mesh/contracts/descriptor-path';
import {
  composeServerMiddleware,
  createServer,
  type CompatServiceDefinition,
  type ServerMiddleware,
  type ServiceImplementation,
} from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { ServerReflection, ServerReflectionService } from 'nice-grpc-server-reflection';
import type { Logger } from 'pino';
import { errorBoundary } from './error-boundary.js';
import { LocalUnaryRegistry, type LocalMethodDefinition, type LocalUnaryCalls } from './local-unary-calls.js';
import { rejectMalformedRequests, withTolerantRequestDecoding } from './request-decoding.js';

export interface GrpcServerOptions {
  logger: Logger;
  /** Largest request or response message, in bytes. 4 MiB by default. */
  maxMessageBytes?: number;
  /** Per HTTP/2 connection. 1,000 by default. */
  maxConcurrentStreams?: number;
}

export interface GrpcServer {
  /** Adds a service behind the error boundary. */
  add<S extends CompatServiceDefinition>(definition: S, implementation: ServiceImplementation<S>): void;
  /**
   * Adds a service behind the error boundary, then `middleware` (for example the
   * access-token check, which gives handlers a typed `context.auth`).
   */
  addWith<Ext, S extends CompatServiceDefinition>(
    middleware: ServerMiddleware<Ext>,
    definition: S,
    implementation: ServiceImplementation<S, Ext>,
  ): void;
  /** Binds host:port (0 picks a free port), marks the services healthy, returns the port. */
  listen(host: string, port: number): Promise<number>;
  /** Marks the server unhealthy, stops accepting, lets calls in flight (in-process ones too) finish. */
  shutdown(): Promise<void>;
  /** Cancels every call at once (in-process ones too), for long streams that would otherwise hold shutdown. */
  forceShutdown(): void;
  /**
   * The unary methods, callable in-process through the same middleware (the
   * all-in-one's edge uses them instead of a loopback HTTP/2 hop). They refuse
   * new calls once shutdown starts.
   */
  localCalls: LocalUnaryCalls;
}

const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const server = createServer({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams ?? 1000,
    // Ping idle clients every 30 s and drop them if the ping is not answered in
    // 10 s; accept client pings no more often than every 10 s.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const boundary = errorBoundary(options.logger);
  const guarded = composeServerMiddleware(boundary, rejectMalformedRequests);
  const health = HealthState();
  const serviceNames: string[] = [];
  const local = new LocalUnaryRegistry(options.logger, maxMessageBytes);
  const addLocal = (definition: CompatServiceDefinition, implementation: object, middleware: ServerMiddleware<unknown>) => {
    const { fullName, methods } = definition as unknown as { fullName: string; methods: Record<string, LocalMethodDefinition> };
    local.addService(fullName, methods, implementation as Record<string, unknown>, middleware);
  };

  return {
    add(definition, implementation) {
      serviceNames.push(fullNameOf(definition));
      const tolerant = withTolerantRequestDecoding(definition);
      server.with(guarded).add(tolerant, implementation);
      addLocal(tolerant, implementation, guarded);
    },
    addWith(middleware, definition, implementation) {
      serviceNames.push(fullNameOf(definition));
      const tolerant = withTolerantRequestDecoding(definition);
      const chain = composeServerMiddleware(guarded, middleware);
      server.with(chain).add(tolerant, implementation);
      addLocal(tolerant, implementation, chain as ServerMiddleware<unknown>);
    },
    async listen(host, port) {
      server.add(HealthDefinition, HealthServiceImpl(health));
      server.add(
        ServerReflectionService,
        ServerReflection(readFileSync(descriptorSetPath), [...serviceNames, 'grpc.health.v1.Health']),
      );
      const bound = await server.listen(`${host}:${port}`);
      for (const name of serviceNames) health.setStatus('healthy', name);
      return bound;
    },
    async shutdown() {
      local.stopAccepting();
      health.setStatus('unhealthy');
      for (const name of serviceNames) health.setStatus('unhealthy', name);
      await Promise.all([server.shutdown(), local.drained()]);
    },
    forceShutdown() {
      local.cancelAll();
      server.forceShutdown();
    },
    localCalls: local,
  };
}

function fullNameOf(definition: CompatServiceDefinition): string {
  const name = (definition as { fullName?: string }).fullName;
  if (!name) throw new Error('service definitions must be ts-proto generic definitions with a fullName');
  return name;
}
