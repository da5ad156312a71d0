// The smallest grpc-web (binary) server that lets the SDK's nice-grpc-web client
// run over real HTTP in tests: unary and server-streaming methods, each message
// flushed as its own length-prefixed frame, status in the 0x80 trailer frame.
// It calls service implementations directly; it is not the edge's translator.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Metadata, ServerError, Status, type CallContext } from 'nice-grpc';

interface Codec {
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

interface MethodShape {
  name: string;
  requestType: Codec;
  responseType: Codec;
  requestStream: boolean;
  responseStream: boolean;
}

export interface GrpcWebBridge {
  readonly url: string;
  close(): Promise<void>;
}

type Implementation = Record<string, (request: unknown, context: CallContext) => unknown>;

export async function startGrpcWebBridge(
  services: Array<[{ fullName: string; methods: Record<string, unknown> }, object]>,
): Promise<GrpcWebBridge> {
  const routes = new Map<string, { method: MethodShape; handler: (request: unknown, context: CallContext) => unknown }>();
  for (const [definition, implementation] of services) {
    for (const [key, value] of Object.entries(definition.methods)) {
      const method = value as MethodShape;
      const handler = (implementation as Implementation)[key];
      if (handler !== undefined && !method.requestStream) routes.set(`/${definition.fullName}/${method.name}`, { method, handler });
    }
  }
  const server = createServer((request, response) => void serve(routes, request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function frame(flag: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

async function serve(
  routes: Map<string, { method: MethodShape; handler: (request: unknown, context: CallContext) => unknown }>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const route = routes.get(request.url ?? '');
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const abort = new AbortController();
  response.on('close', () => abort.abort());
  response.writeHead(200, { 'content-type': 'application/grpc-web+proto' });
  const finish = (code: Status, message: string): void => {
    response.end(frame(0x80, Buffer.from(`grpc-status:${code}\r\ngrpc-message:${encodeURIComponent(message)}\r\n`)));
  };
  if (route === undefined) {
    finish(Status.UNIMPLEMENTED, 'No such method.');
    return;
  }
  const metadata = Metadata();
  if (typeof request.headers.authorization === 'string') metadata.set('authorization', request.headers.authorization);
  const context = { metadata, signal: abort.signal } as CallContext;
  try {
    const input = route.method.requestType.decode(body.subarray(5, 5 + body.readUInt32BE(1)));
    const encode = (message: unknown): Buffer => frame(0, route.method.responseType.encode(message).finish());
    if (route.method.responseStream) {
      for await (const message of route.handler(input, context) as AsyncIterable<unknown>) response.write(encode(message));
    } else {
      response.write(encode(await route.handler(input, context)));
    }
    finish(Status.OK, '');
  } catch (error) {
    if (abort.signal.aborted) return;
    finish(error instanceof ServerError ? error.code : Status.INTERNAL, error instanceof ServerError ? error.details : 'Internal error.');
  }
}
