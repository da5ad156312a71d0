// grpc-web over HTTP/1.1, translated to a gRPC call on the upstream's HTTP/2
// session. The length-prefixed message frames are the same in both protocols, so
// data passes through untouched (base64 per chunk for grpc-web-text); what differs
// is the status, which gRPC sends as HTTP/2 trailers and grpc-web as a last frame
// flagged 0x80. Each upstream chunk is written as it arrives, so server streams
// (Subscribe) reach the browser message by message. A unary call to a service in
// this process (the all-in-one) runs its handler in-process (local-calls.ts).
import { constants, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Status } from 'nice-grpc';
import { clientAddress, forwardedFor } from '../admission/admission.js';
import type { CallContext } from '../grpc/call-context.js';
import { cannotOpenUpstream, HOP_BY_HOP_HEADERS, statusName, statusTrailers, upstreamBroke, upstreamUnavailable, type EdgeRejection } from '../grpc/grpc-status.js';
import { callWhileConnected, localUnaryHandler, readBody, REQUEST_TOO_LARGE } from '../grpc/local-calls.js';
import { decodeBase64Chunks, trailerFrame } from './grpc-web-frames.js';

/** True for a grpc-web call: POST with a grpc-web content type (binary or text). */
export function isGrpcWebRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && mediaType(req.headers['content-type']).startsWith('application/grpc-web');
}

/** Browser and grpc-web request headers that are not gRPC metadata for the upstream. */
const NOT_METADATA = new Set([
  ...HOP_BY_HOP_HEADERS,
  'content-type', 'te', 'accept', 'accept-encoding', 'accept-language', 'origin', 'referer', 'cookie',
  'x-grpc-web', 'x-user-agent', 'cache-control', 'pragma', 'priority', 'dnt', 'x-forwarded-for',
]);

/** Upstream response headers that describe the HTTP/2 hop, not the call. */
const NOT_RESPONSE_METADATA = new Set([...HOP_BY_HOP_HEADERS, 'content-type', 'date', 'grpc-encoding', 'grpc-accept-encoding', 'te']);

const CALL_FAILED: EdgeRejection = { status: Status.INTERNAL, message: 'The edge could not handle this call. Try again.' };
const EDGE_DRAINING: EdgeRejection = { status: Status.UNAVAILABLE, message: 'The edge is shutting down. Reconnect and try again.' };

/** `corsHeaders` go on every answer, so a browser may read the status and metadata. */
export async function bridgeGrpcWeb(
  context: CallContext,
  req: IncomingMessage,
  res: ServerResponse,
  corsHeaders: OutgoingHttpHeaders,
): Promise<void> {
  const contentType = mediaType(req.headers['content-type']);
  const text = contentType.startsWith('application/grpc-web-text');
  const record = context.metrics.callStarted(text ? 'grpc-web-text' : 'grpc-web');
  let routeLabel = 'unrouted';
  const encode = (chunk: Buffer): string | Buffer => (text ? chunk.toString('base64') : chunk);
  // An answer the edge gives itself: HTTP 200 with only the trailer frame.
  const answer = (rejection: EdgeRejection) => {
    record.finish(routeLabel, statusName(rejection.status));
    if (res.writableEnded || res.destroyed) return;
    if (!res.headersSent) res.writeHead(200, { ...corsHeaders, 'content-type': contentType });
    res.end(encode(trailerFrame(statusTrailers(rejection))));
  };
  let closed = false;
  res.once('close', () => {
    closed = true;
    record.finish(routeLabel, 'CANCELLED');
  });

  // A new call on a keep-alive connection while the edge drains: the client retries elsewhere.
  if (!context.isAccepting()) return answer(EDGE_DRAINING);

  try {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const decision = await context.admission.admitCall({
      clientIp: clientAddress(req.socket.remoteAddress),
      path,
      authorization: req.headers.authorization,
    });
    routeLabel = decision.admitted ? decision.route.label : decision.routeLabel;
    if (!decision.admitted) return answer(decision);

    const raw = await readBody(req, text ? Math.ceil((context.maxRequestBytes * 4) / 3) + 4 : context.maxRequestBytes);
    if (raw === 'aborted') return;
    if (!Buffer.isBuffer(raw)) return answer(REQUEST_TOO_LARGE);
    const body = text ? decodeBase64Chunks(raw.toString('latin1')) : raw;
    if (body === undefined) return answer({ status: Status.INVALID_ARGUMENT, message: 'The grpc-web-text request body is not valid base64.' });

    // The browser may have left while the token or the body was awaited: then no upstream call starts.
    if (closed) return;
    const upstreamName = decision.route.upstream;
    const upstreamHeaders = {
      ...metadataOf(req.headers, NOT_METADATA),
      'content-type': 'application/grpc',
      te: 'trailers',
      'x-forwarded-for': forwardedFor(req.headers['x-forwarded-for'], req.socket.remoteAddress),
    };
    const local = localUnaryHandler(context, upstreamName, path, req.headers);
    if (local) {
      const reply = await callWhileConnected(local.handler, upstreamHeaders, body, res);
      if (closed) return;
      record.finish(routeLabel, statusName(reply.trailers['grpc-status'] as string));
      res.writeHead(200, { ...corsHeaders, ...reply.headers, 'content-type': contentType });
      const frames = reply.message ? [reply.message, trailerFrame(reply.trailers)] : [trailerFrame(reply.trailers)];
      res.end(text ? frames.map((frame) => frame.toString('base64')).join('') : Buffer.concat(frames));
      return;
    }
    let upstream;
    try {
      upstream = await context.router.openStream(upstreamName, { ...upstreamHeaders, ':method': 'POST', ':path': path });
    } catch (error) {
      context.logger.warn({ err: error, upstream: upstreamName }, 'cannot open upstream stream');
      context.metrics.upstreamError(upstreamName);
      return answer(cannotOpenUpstream(upstreamName, error));
    }
    if (closed) {
      // The browser left while the instance was chosen.
      upstream.close(constants.NGHTTP2_CANCEL);
      return;
    }
    let trailers: IncomingHttpHeaders | undefined;
    let settled = false;
    const settle = (rejection: EdgeRejection) => {
      if (settled || res.writableEnded || res.destroyed) return;
      settled = true;
      context.metrics.upstreamError(upstreamName);
      answer(rejection);
    };

    upstream.on('response', (response) => {
      if (response['grpc-status'] !== undefined) {
        // Trailers-only upstream answer: it becomes the trailer frame of a body with no messages.
        settled = true;
        record.finish(routeLabel, statusName(single(response['grpc-status'])));
        res.writeHead(200, { ...corsHeaders, 'content-type': contentType });
        res.end(encode(trailerFrame(metadataOf(response, NOT_RESPONSE_METADATA))));
        upstream.resume();
        return;
      }
      res.writeHead(200, { ...corsHeaders, ...metadataOf(response, NOT_RESPONSE_METADATA), 'content-type': contentType });
      res.flushHeaders();
      upstream.on('data', (chunk: Buffer) => {
        if (!res.write(encode(chunk)) && !upstream.isPaused()) {
          upstream.pause();
          res.once('drain', () => upstream.resume());
        }
      });
      upstream.on('end', () => {
        if (settled) return;
        settled = true;
        const final = trailers ? metadataOf(trailers, NOT_RESPONSE_METADATA) : statusTrailers(upstreamBroke(upstreamName));
        record.finish(routeLabel, statusName(single(final['grpc-status'] as string | undefined)));
        res.end(encode(trailerFrame(final)));
      });
    });
    upstream.on('trailers', (received) => {
      trailers = received;
    });
    upstream.on('error', (error) => {
      context.logger.debug({ err: error, upstream: upstreamName }, 'upstream stream failed');
      settle(res.headersSent ? upstreamBroke(upstreamName) : upstreamUnavailable(upstreamName));
    });
    upstream.on('close', () => settle(res.headersSent ? upstreamBroke(upstreamName) : upstreamUnavailable(upstreamName)));
    res.on('close', () => {
      // The browser went away (or the stream finished): stop the upstream call.
      if (!upstream.closed) upstream.close(constants.NGHTTP2_CANCEL);
    });
    upstream.end(body);
  } catch (error) {
    // The caller would answer HTTP 500, which a grpc-web client cannot read as a status.
    context.logger.error({ err: error, route: routeLabel }, 'edge could not handle a grpc-web call');
    if (res.headersSent) res.destroy();
    else answer(CALL_FAILED);
  }
}

function metadataOf(headers: IncomingHttpHeaders, skip: Set<string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || skip.has(name) || name.startsWith('sec-') || name.startsWith('access-control-')) continue;
    out[name] = value;
  }
  return out;
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
