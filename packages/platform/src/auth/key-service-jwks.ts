// The JwksSource of core and connect (and of the all-in-one's shared verifier):
// auth's public keys fetched over gRPC from im.internal.v1.KeyService, the keys
// auth signs access tokens with. The AccessTokenVerifier decides when to fetch
// (first use, unknown kid, periodic refresh).
import { internalV1 } from '@im-mesh/contracts';
import { createServiceClient, type ServiceChannel } from '../grpc/grpc-client.js';
import type { JsonWebKeySet, JwksSource } from './access-token.js';

/** How long one JWKS fetch may take, in ms; token checks wait for it. */
const FETCH_DEADLINE_MS = 3_000;

export function keyServiceJwks(channel: ServiceChannel): JwksSource {
  const client = createServiceClient(internalV1.KeyServiceDefinition, channel.channel);
  return async () => {
    const { jwksJson } = await client.getJwks({}, { signal: AbortSignal.timeout(FETCH_DEADLINE_MS) });
    const set = JSON.parse(jwksJson) as JsonWebKeySet;
    if (!set || !Array.isArray(set.keys)) throw new Error('auth returned a JWKS without a keys array');
    return set;
  };
}
