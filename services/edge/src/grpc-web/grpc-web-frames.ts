// The grpc-web wire details that differ from gRPC over HTTP/2: the trailer frame
// (flag 0x80, `key: value\r\n` lines) and the base64 of grpc-web-text, where a body
// may be several base64 chunks, each padded, concatenated.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const TRAILER_FLAG = 0x80;

/** A length-prefixed frame holding `trailers` as HTTP/1-style header lines. */
export function trailerFrame(trailers: IncomingHttpHeaders | OutgoingHttpHeaders): Buffer {
  let block = '';
  for (const [name, value] of Object.entries(trailers)) {
    if (value === undefined || name.startsWith(':')) continue;
    block += `${name.toLowerCase()}: ${Array.isArray(value) ? value.join(', ') : String(value)}\r\n`;
  }
  const body = Buffer.from(block, 'utf8');
  const frame = Buffer.alloc(5 + body.length);
  frame[0] = TRAILER_FLAG;
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/**
 * Decodes a grpc-web-text request body. Returns undefined when it is not base64
 * (each padded chunk must be a whole number of 4-character groups).
 */
export function decodeBase64Chunks(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/=]*$/.test(compact)) return undefined;
  // Split after each run of padding that is followed by more data: Node's decoder
  // stops at the first '=', so every chunk is decoded on its own.
  const chunks = compact.split(/(?<==)(?=[^=])/);
  if (chunks.some((chunk) => chunk.length % 4 !== 0 || /=[^=]/.test(chunk))) return undefined;
  return Buffer.concat(chunks.map((chunk) => Buffer.from(chunk, 'base64')));
}
