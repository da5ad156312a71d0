// gRPC server bootstrap shared by every service: message size limits, keepalive
// policy, the error boundary, INVALID_ARGUMENT for requests that do not decode,
// grpc.health.v1 and server reflection on every server.
import { readFileSync } from 'node:fs';
import { descriptorSetPath } from '@im-mesh/contracts/descriptor-path';
import {
  createServer,
  type CompatServiceDefinition,
  type ServerMiddleware,
  type ServiceImplementation,
} from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { ServerReflection, ServerReflectionService } from 'nice-grpc-server-reflection';
import type { Logger } from 'pino';
import { errorBoundary } from './error-boundary.js';
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
  /** Marks the server unhealthy, stops accepting, lets calls in flight finish. */
  shutdown(): Promise<void>;
  /** Cancels every call at once, for long streams that would otherwise hold shutdown. */
  forceShutdown(): void;
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
  const health = HealthState();
  const serviceNames: string[] = [];

  return {
    add(definition, implementation) {
      serviceNames.push(fullNameOf(definition));
      server.with(boundary).with(rejectMalformedRequests).add(withTolerantRequestDecoding(definition), implementation);
    },
    addWith(middleware, definition, implementation) {
      serviceNames.push(fullNameOf(definition));
      server
        .with(boundary)
        .with(rejectMalformedRequests)
        .with(middleware)
        .add(withTolerantRequestDecoding(definition), implementation);
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
      health.setStatus('unhealthy');
      for (const name of serviceNames) health.setStatus('unhealthy', name);
      await server.shutdown();
    },
    forceShutdown() {
      server.forceShutdown();
    },
  };
}

function fullNameOf(definition: CompatServiceDefinition): string {
  const name = (definition as { fullName?: string }).fullName;
  if (!name) throw new Error('service definitions must be ts-proto generic definitions with a fullName');
  return name;
}
