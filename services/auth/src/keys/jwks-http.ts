// GET /.well-known/jwks.json on auth's HTTP port: the same key set as
// KeyService.GetJwks, for consumers that only speak HTTP (Envoy's jwt_authn).
import type { HttpHandler } from '@im-mesh/platform';
import type { KeyRing } from './key-ring.js';

export const JWKS_PATH = '/.well-known/jwks.json';

export function jwksHttpHandler(keys: KeyRing): HttpHandler {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== JWKS_PATH) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method not allowed"}');
      return true;
    }
    const body = keys.jwksJson();
    res.writeHead(200, {
      'content-type': 'application/json',
      // Keys change rarely and verifiers refetch on an unknown kid, so a short cache is safe.
      'cache-control': 'public, max-age=300',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
