// The edge's JwksSource: auth's public keys fetched over gRPC from
// im.internal.v1.KeyService, the same keys auth signs access tokens with. The
// fetch stays on one auth instance while it serves, and moves to another when
// that instance fails a fetch or its circuit opens.
import { internalV1 } from '@im-mesh/contracts';
import { createServiceClient, openChannel, type JsonWebKeySet, type JwksSource } from '@im-mesh/platform';

export interface GrpcJwksSource {
  source: JwksSource;
  close(): void;
}

/** Which auth instance to ask. */
export interface AuthInstances {
  /** An auth instance that takes calls now, round-robin; undefined when there is none. */
  pick(): string | undefined;
  /** False once `address` left the registry or its circuit opened. */
  serves(address: string): boolean;
}

export function grpcJwksSource(auth: AuthInstances): GrpcJwksSource {
  let current: { address: string; channel: ReturnType<typeof openChannel>; client: ReturnType<typeof keyClient> } | undefined;
  const drop = () => {
    current?.channel.close();
    current = undefined;
  };
  return {
    source: async () => {
      if (current && !auth.serves(current.address)) drop();
      if (!current) {
        const address = auth.pick();
        if (!address) throw new Error('no auth instance is available to fetch the signing keys from');
        const channel = openChannel(address);
        current = { address, channel, client: keyClient(channel) };
      }
      const asked = current;
      try {
        const { jwksJson } = await asked.client.getJwks({});
        const set = JSON.parse(jwksJson) as JsonWebKeySet;
        if (!set || !Array.isArray(set.keys)) throw new Error('auth returned a JWKS without a keys array');
        return set;
      } catch (error) {
        // The next fetch picks an instance afresh (round-robin moves past this one).
        if (current === asked) drop();
        throw error;
      }
    },
    close: drop,
  };
}

function keyClient(channel: ReturnType<typeof openChannel>) {
  return createServiceClient(internalV1.KeyServiceDefinition, channel.channel);
}
