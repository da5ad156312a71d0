// The edge's JwksSource: auth's public keys fetched over gRPC from
// im.internal.v1.KeyService, the same keys auth signs access tokens with.
import { internalV1 } from '@im-mesh/contracts';
import { createServiceClient, openChannel, type JsonWebKeySet, type JwksSource } from '@im-mesh/platform';

export interface GrpcJwksSource {
  source: JwksSource;
  close(): void;
}

/** `authAddress` is looked up on every fetch, so a moved auth service is followed. */
export function grpcJwksSource(authAddress: () => string): GrpcJwksSource {
  let current: { address: string; channel: ReturnType<typeof openChannel>; client: ReturnType<typeof keyClient> } | undefined;
  return {
    source: async () => {
      const address = authAddress();
      if (current?.address !== address) {
        current?.channel.close();
        const channel = openChannel(address);
        current = { address, channel, client: keyClient(channel) };
      }
      const { jwksJson } = await current.client.getJwks({});
      const set = JSON.parse(jwksJson) as JsonWebKeySet;
      if (!set || !Array.isArray(set.keys)) throw new Error('auth returned a JWKS without a keys array');
      return set;
    },
    close: () => current?.channel.close(),
  };
}

function keyClient(channel: ReturnType<typeof openChannel>) {
  return createServiceClient(internalV1.KeyServiceDefinition, channel.channel);
}
