// CORS for grpc-web from browsers: which origins may call, the preflight answer,
// and the headers a browser may read (grpc-status and grpc-message, without which
// a grpc-web client cannot tell success from failure).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

const ALLOWED_REQUEST_HEADERS = new Set(['content-type', 'x-grpc-web', 'x-user-agent', 'authorization', 'grpc-timeout']);
const EXPOSED_HEADERS = 'grpc-status, grpc-message, grpc-status-details-bin';

export class CorsPolicy {
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;

  /** `origins` as configured: exact origins ("https://app.example.com"), or '*' for any. */
  constructor(origins: string[]) {
    this.anyOrigin = origins.includes('*');
    this.origins = new Set(origins.map((origin) => origin.replace(/\/+$/, '').toLowerCase()));
  }

  /** The headers to add to an actual (non-preflight) response; none when the origin is not allowed. */
  responseHeaders(req: IncomingMessage): OutgoingHttpHeaders {
    const allowed = this.allowedOrigin(req.headers.origin);
    if (!allowed) return {};
    return {
      'access-control-allow-origin': allowed,
      'access-control-expose-headers': EXPOSED_HEADERS,
      ...(allowed === '*' ? {} : { vary: 'Origin' }),
    };
  }

  /** Answers an OPTIONS preflight: 204 with the grants, or 403 for an origin not on the list. */
  answerPreflight(req: IncomingMessage, res: ServerResponse): void {
    const allowed = this.allowedOrigin(req.headers.origin);
    if (!allowed) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('This origin may not call the API.\n');
      return;
    }
    const requested = (req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean);
    // Custom metadata travels as x-* headers; anything else outside the fixed list stays refused.
    const granted = new Set([...ALLOWED_REQUEST_HEADERS, ...requested.filter((name) => name.startsWith('x-'))]);
    res
      .writeHead(204, {
        'access-control-allow-origin': allowed,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': [...granted].join(', '),
        'access-control-expose-headers': EXPOSED_HEADERS,
        'access-control-max-age': '86400',
        ...(allowed === '*' ? {} : { vary: 'Origin' }),
      })
      .end();
  }

  private allowedOrigin(origin: string | undefined): string | undefined {
    if (!origin) return undefined;
    if (this.anyOrigin) return '*';
    return this.origins.has(origin.toLowerCase()) ? origin : undefined;
  }
}
