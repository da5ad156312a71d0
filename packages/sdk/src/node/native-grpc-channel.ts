// Native gRPC (HTTP/2, h2c for http:// addresses) clients through nice-grpc and
// @grpc/grpc-js. Node only, hence outside the browser-safe core.
import { authV1, connectV1, messageV1 } from '@im-mesh/contracts';
import { createChannel, createClient } from 'nice-grpc';
import type { RpcChannel } from '../rpc-channel.js';

/** Opens one HTTP/2 channel to `baseUrl` ("http://host:port") shared by the three service clients. */
export function openNativeGrpcChannel(baseUrl: string): RpcChannel {
  const channel = createChannel(baseUrl);
  return {
    kind: 'grpc',
    auth: createClient(authV1.AuthServiceDefinition, channel),
    messages: createClient(messageV1.MessageServiceDefinition, channel),
    connect: createClient(connectV1.ConnectServiceDefinition, channel),
    close: () => channel.close(),
  };
}
