// Serves the presigned URLs of LocalDiskBlobStore: GET/HEAD downloads and PUT
// uploads under <publicBaseUrl path>/blobs/<key>, for valid signatures only,
// with CORS for browsers (any origin: the signature is the permission).
// Refusals: 403 for a missing, tampered or foreign signature or a method the URL
// does not grant, 410 once expired, 413 for an upload longer than signed, 400 for
// a shorter one or another content type, 404 for a missing blob. The edge mounts
// it on its public port; any HTTP server can.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { AppError } from '../../errors/app-error.js';
import type { HttpHandler } from '../../ops/ops-http.js';
import { blobKeyProblem, secretBytes, verifyBlobUrlSignature, type SignedBlobFields } from './blob-url-signature.js';
import type { LocalDiskBlobStore } from './local-disk-blob-store.js';

export interface BlobHttpHandlerOptions {
  logger?: Logger;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
}

const DIGITS = /^\d{1,15}$/;

export function createBlobHttpHandler(
  store: LocalDiskBlobStore,
  secret: string | Uint8Array,
  options: BlobHttpHandlerOptions = {},
): HttpHandler {
  const key = secretBytes(secret);
  const now = options.now ?? Date.now;
  // The path under the public address; asked per request because the address
  // may be known only once the serving port is bound.
  const prefixOf = () => `${new URL(store.publicBaseUrl).pathname.replace(/\/+$/, '')}/blobs/`;

  return async function serveBlob(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://blob.invalid');
    const prefix = prefixOf();
    if (!url.pathname.startsWith(prefix)) return false;
    // Browsers upload and download from the app's own origin. A signed URL is
    // the whole permission and carries no cookies, so any origin may use it.
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      res
        .writeHead(204, {
          'access-control-allow-methods': 'GET, HEAD, PUT',
          'access-control-allow-headers': 'content-type',
          'access-control-max-age': '86400',
        })
        .end();
      return true;
    }
    try {
      await answer(req, res, url, prefix);
    } catch (error) {
      // A client that hangs up mid-transfer is not a server fault.
      const clientLeft = (error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
      if (!clientLeft) options.logger?.error({ err: error, path: url.pathname }, 'blob request failed');
      if (!res.headersSent) refuse(res, 500, 'The file could not be served. Try again later.');
      else res.destroy();
    }
    return true;
  };

  async function answer(req: IncomingMessage, res: ServerResponse, url: URL, prefix: string): Promise<void> {
    const method = req.method ?? 'GET';
    const op = method === 'GET' || method === 'HEAD' ? 'get' : method === 'PUT' ? 'put' : undefined;
    if (!op) {
      res.setHeader('allow', 'GET, HEAD, PUT');
      return refuse(res, 405, 'Blob links accept GET, HEAD and PUT only.', req);
    }
    let blobKey: string;
    try {
      blobKey = decodeURIComponent(url.pathname.slice(prefix.length));
    } catch {
      return refuse(res, 400, 'The file key in this link is not valid.', req);
    }
    const q = url.searchParams;
    const fields: SignedBlobFields = {
      op: q.get('op') ?? '',
      key: blobKey,
      exp: q.get('exp') ?? '',
      len: q.get('len') ?? '',
      type: q.get('type') ?? '',
    };
    if (!verifyBlobUrlSignature(key, fields, q.get('sig') ?? '')) {
      return refuse(res, 403, 'This link is not valid. Ask for a new one.', req);
    }
    if (fields.op !== op) return refuse(res, 403, `This link does not allow ${method}.`, req);
    // Signed fields were produced by us, but check their shape before trusting them.
    if (!DIGITS.test(fields.exp) || blobKeyProblem(blobKey)) return refuse(res, 403, 'This link is not valid.', req);
    if (now() >= Number(fields.exp) * 1000) return refuse(res, 410, 'This link has expired. Ask for a new one.', req);
    if (op === 'get') return download(req, res, blobKey, Number(fields.exp));
    if (!DIGITS.test(fields.len) || !fields.type) return refuse(res, 403, 'This link is not valid.', req);
    return upload(req, res, blobKey, Number(fields.len), fields.type);
  }

  async function download(req: IncomingMessage, res: ServerResponse, blobKey: string, exp: number): Promise<void> {
    const opened = await store.open(blobKey);
    if (!opened) return refuse(res, 404, 'There is no file under this link.');
    try {
      const maxAge = Math.max(0, exp - Math.floor(now() / 1000));
      res.writeHead(200, {
        'content-type': opened.info.contentType,
        'content-length': String(opened.info.size),
        'cache-control': `private, max-age=${maxAge}`,
        'x-content-type-options': 'nosniff',
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(opened.handle.createReadStream({ autoClose: false }), res);
    } finally {
      await opened.handle.close();
    }
  }

  async function upload(req: IncomingMessage, res: ServerResponse, blobKey: string, length: number, type: string): Promise<void> {
    const given = (req.headers['content-type'] ?? '').trim();
    if (given.toLowerCase() !== type.toLowerCase()) {
      return refuse(res, 400, `This link accepts only content of type ${type}.`, req);
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined) {
      if (!DIGITS.test(declared)) return refuse(res, 400, 'The Content-Length header is not a number.', req);
      if (Number(declared) > length) return refuse(res, 413, `This link accepts exactly ${length} bytes.`, req);
      if (Number(declared) < length) return refuse(res, 400, `This link accepts exactly ${length} bytes.`, req);
    }
    try {
      // Read through an iterator that leaves the request open on failure, so a
      // refusal can still be answered on this connection.
      const info = await store.putStream(blobKey, req.iterator({ destroyOnReturn: false }), type, length);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(info));
    } catch (error) {
      if (error instanceof AppError && error.reason === 'BLOB_TOO_LARGE') return refuse(res, 413, error.message, req);
      if (error instanceof AppError && error.code === 'invalid_argument') return refuse(res, 400, error.message, req);
      throw error;
    }
  }
}

/**
 * Answers with a JSON error. When the request body was not read, the connection
 * is closed after the answer and what arrives meanwhile is discarded, so a client
 * still sending is not stalled and nothing of the body is kept.
 */
function refuse(res: ServerResponse, status: number, message: string, unreadBody?: IncomingMessage): void {
  const hasBody = unreadBody !== undefined && unreadBody.method !== 'GET' && unreadBody.method !== 'HEAD';
  if (hasBody && !unreadBody.readableEnded) {
    res.setHeader('connection', 'close');
    unreadBody.resume();
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: message }));
}
