// RpcChannel: typed clients of the public services behind one edge address.
// grpc-web (nice-grpc-web over fetch) works everywhere; native gRPC comes from
// the platform (Node only). Both use the same ts-proto definitions.
import { authV1, connectV1, messageV1 } from '@im-mesh/contracts';
import { createChannel, createClient, FetchTransport } from 'nice-grpc-web';
import type { SdkPlatform } from './platform.js';

/** How unary calls (and the Connect/Subscribe streams) reach the edge. */
export type RpcKind = 'grpc' | 'grpc-web';

export interface RpcChannel {
  readonly kind: RpcKind;
  readonly auth: authV1.AuthServiceClient;
  readonly messages: messageV1.MessageServiceClient;
  readonly connect: connectV1.ConnectServiceClient;
  /** Releases connections; calls in flight fail. */
  close(): void;
}

/** The default edge address of a local all-in-one. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:9191';

/** grpc-web over fetch to `baseUrl` (http:// or https://), binary mode. */
export function openGrpcWebChannel(baseUrl: string): RpcChannel {
  const channel = createChannel(trimSlash(baseUrl), FetchTransport());
  return {
    kind: 'grpc-web',
    auth: createClient(authV1.AuthServiceDefinition, channel),
    messages: createClient(messageV1.MessageServiceDefinition, channel),
    connect: createClient(connectV1.ConnectServiceDefinition, channel),
    // fetch keeps no connection of its own to release.
    close: () => undefined,
  };
}

/** Opens a channel of the given kind; native gRPC needs a platform that provides it. */
export function openRpcChannel(baseUrl: string, kind: RpcKind, platform: SdkPlatform): RpcChannel {
  if (kind === 'grpc-web') return openGrpcWebChannel(baseUrl);
  if (platform.openNativeChannel === undefined) {
    throw new Error("Native gRPC is not available on this platform: pass nodePlatform from '@im-mesh/sdk/node'.");
  }
  return platform.openNativeChannel(trimSlash(baseUrl));
}

export function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
