// The JwksSource for core's access-token checks: auth's public keys fetched over
// gRPC (internalV1.KeyService.GetJwks). The verifier caches the keys and refetches
// only for an unknown kid, so this is called rarely.
import type { JsonWebKeySet, JwksSource } from '@im-mesh/platform';
import type { internalV1 } from '@im-mesh/contracts';
import type { Client } from 'nice-grpc';

export function authJwksSource(client: Client<typeof internalV1.KeyServiceDefinition>): JwksSource {
  return async () => {
    const { jwksJson } = await client.getJwks({});
    const set = JSON.parse(jwksJson) as JsonWebKeySet;
    if (!set || !Array.isArray(set.keys)) throw new Error('auth returned a JWKS without a keys array');
    return set;
  };
}
