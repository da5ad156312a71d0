// Small real gRPC upstreams for the edge tests, built with the platform's gRPC
// server: an auth double (AuthService.GetLoginKey/Logout + internal KeyService),
// a core double (MessageService.SendMessage echo; "hold" waits for the caller to leave), a connect double (Connect echo,
// Subscribe that pushes 3 frames then stays open, Ack) and a WebSocket echo server
// standing in for a connect node's /ws. Each double counts what reached it, so
// tests can prove a rejected call never left the edge.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authV1, connectV1, internalV1, messageV1 } from '@im-mesh/contracts';
import { AppError, createGrpcServer, type GrpcServer, type LocalUnaryCalls, type Logger } from '@im-mesh/platform';
import { Metadata } from 'nice-grpc';
import { WebSocketServer } from 'ws';
import type { TestTokenIssuer } from './token-issuer-double.js';

export interface UpstreamCalls {
  getLoginKey: number;
  logout: number;
  sendMessage: number;
  /** SendMessage calls with client_msg_id "hold" whose caller went away (they wait for that). */
  sendCancelled: number;
  subscribe: number;
  /** Subscribe streams whose caller went away (cancel reached the upstream). */
  subscribeCancelled: number;
  /** Metadata of the last SendMessage, as the core double saw it. */
  lastSendMetadata: Metadata | undefined;
  /** Headers of the last WebSocket upgrade, as the connect node saw them. */
  lastUpgradeHeaders: IncomingHttpHeaders | undefined;
}

export interface UpstreamDoubles {
  addresses: { auth: string; core: string; connect: string; connectWs: string };
  /** The doubles' unary methods, callable in-process, as the all-in-one hands its services' to the edge. */
  localCalls: { auth: LocalUnaryCalls; core: LocalUnaryCalls; connect: LocalUnaryCalls };
  calls: UpstreamCalls;
  /** Closes every WebSocket from the connect node's side, as a draining node does after GoAway. */
  closeWebSockets(code: number, reason: string): void;
  stop(): Promise<void>;
}

const unimplemented = (method: string) => async (): Promise<never> => {
  throw new AppError('unimplemented', `${method} is not part of this test double.`);
};

/**
 * The methods a double implements, and UNIMPLEMENTED for every other method of the
 * service, so the doubles keep working as the services gain methods.
 */
export function withTheRestUnimplemented<Implementation extends object>(
  definition: { methods: Record<string, { name: string }> },
  given: Partial<Implementation>,
): Implementation {
  const rest = Object.fromEntries(
    Object.entries(definition.methods)
      .filter(([name]) => !(name in given))
      .map(([name, method]) => [name, unimplemented(method.name)]),
  );
  return { ...rest, ...given } as Implementation;
};

export async function startUpstreamDoubles(logger: Logger, issuer: TestTokenIssuer): Promise<UpstreamDoubles> {
  const calls: UpstreamCalls = {
    getLoginKey: 0,
    logout: 0,
    sendMessage: 0,
    sendCancelled: 0,
    subscribe: 0,
    subscribeCancelled: 0,
    lastSendMetadata: undefined,
    lastUpgradeHeaders: undefined,
  };

  const authDouble = createGrpcServer({ logger });
  authDouble.add(authV1.AuthServiceDefinition, withTheRestUnimplemented<authV1.AuthServiceImplementation>(authV1.AuthServiceDefinition, {
    async getLoginKey(request) {
      calls.getLoginKey += 1;
      // A device id "big-<n>" asks for an n-character key, to send large answers through the edge.
      const size = /^big-(\d+)$/.exec(request.deviceId)?.[1];
      const publicKeyPem = size ? 'k'.repeat(Number(size)) : '-----BEGIN PUBLIC KEY-----test';
      return { kid: 'login-key-1', publicKeyPem, nonce: `nonce-for-${request.deviceId}` };
    },
    async logout() {
      calls.logout += 1;
      return {};
    },
  }));
  authDouble.add(internalV1.KeyServiceDefinition, {
    async getJwks() {
      return { jwksJson: issuer.jwksJson };
    },
  });

  const coreDouble = createGrpcServer({ logger });
  coreDouble.add(messageV1.MessageServiceDefinition, withTheRestUnimplemented<messageV1.MessageServiceImplementation>(messageV1.MessageServiceDefinition, {
    async sendMessage(request, context) {
      calls.sendMessage += 1;
      calls.lastSendMetadata = context.metadata;
      if (request.clientMsgId === 'hold') {
        await new Promise<void>((resolve) => {
          if (context.signal.aborted) resolve();
          context.signal.addEventListener('abort', () => resolve());
        });
        calls.sendCancelled += 1;
      }
      context.header.set('x-echo-tag', context.metadata.get('x-trace-tag') ?? 'none');
      context.trailer.set('x-served-by', 'core-double');
      return {
        messageId: `echo-${request.clientMsgId}`,
        conversationId: request.target?.$case === 'conversationId' ? request.target.value : 'direct',
        seq: calls.sendMessage,
        sentAt: new Date(),
      };
    },
  }));

  const connectDouble = createGrpcServer({ logger });
  connectDouble.add(connectV1.ConnectServiceDefinition, {
    async *connect(requests) {
      for await (const request of requests) {
        if (request.frame?.kind?.$case === 'ping') {
          yield { frame: { kind: { $case: 'pong', value: { clientTimeMs: request.frame.kind.value.clientTimeMs, serverTimeMs: 1 } } } };
        }
      }
    },
    async *subscribe(_request, context) {
      calls.subscribe += 1;
      for (let n = 1; n <= 3; n += 1) {
        yield { frame: { kind: { $case: 'pong', value: { clientTimeMs: n, serverTimeMs: n } } } };
      }
      // Like the real Subscribe, the stream stays open until the client goes away.
      await new Promise<void>((resolve) => {
        if (context.signal.aborted) resolve();
        context.signal.addEventListener('abort', () => resolve());
      });
      calls.subscribeCancelled += 1;
    },
    async ack() {
      return { serverTimeMs: 42 };
    },
  });

  const listen = async (server: GrpcServer) => `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  const auth = await listen(authDouble);
  const core = await listen(coreDouble);
  const connect = await listen(connectDouble);

  // The connect node's WebSocket endpoint: echoes every message, picks the 'im.v1' subprotocol.
  const wsHttp: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({
    server: wsHttp,
    path: '/ws',
    handleProtocols: (protocols) => (protocols.has('im.v1') ? 'im.v1' : false),
  });
  wss.on('connection', (socket, req) => {
    calls.lastUpgradeHeaders = req.headers;
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => wsHttp.listen(0, '127.0.0.1', () => resolve()));
  const connectWs = `127.0.0.1:${(wsHttp.address() as AddressInfo).port}`;

  return {
    addresses: { auth, core, connect, connectWs },
    localCalls: { auth: authDouble.localCalls, core: coreDouble.localCalls, connect: connectDouble.localCalls },
    calls,
    closeWebSockets(code, reason) {
      for (const client of wss.clients) client.close(code, reason);
    },
    async stop() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => wsHttp.close(() => resolve()));
      for (const server of [authDouble, coreDouble, connectDouble]) server.forceShutdown();
    },
  };
}

/** A loopback address where nothing listens, for "upstream down" tests. */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
