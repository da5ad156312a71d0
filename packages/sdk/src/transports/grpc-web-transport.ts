// The grpc-web transport for browsers: ConnectService.Subscribe is the server
// stream; acks and pings go back as unary Ack calls naming the connection id from
// `authenticated`. A ping's AckResponse is turned into a `pong` frame, so the
// client's liveness check works the same as on the other transports.
import type { connectV1 } from '@im-mesh/contracts';
import { Metadata } from 'nice-grpc-common';
import { callWithRetry, type CallPolicy } from '../rpc-call.js';
import type { ConnectionTransport, TransportAuth, TransportHandlers, TransportSession } from './connection-transport.js';

const ACK_PATH = '/im.connect.v1.ConnectService/Ack';

/** `ackPolicy` bounds each Ack call (acks are idempotent, so they may be retried). */
export function grpcWebTransport(
  connect: connectV1.ConnectServiceClient,
  ackPolicy: CallPolicy = { timeoutMs: 10_000, attempts: 2, retryDelayMs: 200 },
): ConnectionTransport {
  return {
    kind: 'grpc-web',
    open(auth: TransportAuth, handlers: TransportHandlers): TransportSession {
      const abort = new AbortController();
      let connectionId = '';
      let closedByClient = false;

      void (async () => {
        try {
          const metadata = Metadata({ authorization: `Bearer ${auth.accessToken}` });
          for await (const response of connect.subscribe({}, { metadata, signal: abort.signal })) {
            const frame = response.frame;
            if (frame === undefined) continue;
            if (frame.kind?.$case === 'authenticated') connectionId = frame.kind.value.connectionId;
            handlers.onFrame(frame);
          }
          handlers.onClose();
        } catch (error) {
          handlers.onClose(closedByClient ? undefined : error);
        }
      })();

      const ack = (request: Omit<connectV1.AckRequest, 'connectionId'>): Promise<connectV1.AckResponse> => {
        if (connectionId === '') return Promise.reject(new Error('The Subscribe stream is not authenticated yet.'));
        const body = { ...request, connectionId };
        return callWithRetry(ACK_PATH, auth.tokens, ackPolicy, (options) => connect.ack(body, options), abort.signal);
      };

      return {
        send: async (frame) => {
          switch (frame.kind?.$case) {
            case 'ack':
              await ack({ ack: frame.kind.value, ping: false, typing: undefined });
              return;
            case 'ping': {
              const clientTimeMs = frame.kind.value.clientTimeMs;
              const response = await ack({ ack: undefined, ping: true, typing: undefined });
              if (!abort.signal.aborted) {
                handlers.onFrame({ kind: { $case: 'pong', value: { clientTimeMs, serverTimeMs: response.serverTimeMs } } });
              }
              return;
            }
            case 'typing':
              // A Subscribe stream cannot carry client frames: typing rides on the Ack RPC.
              await ack({ ack: undefined, ping: false, typing: frame.kind.value });
              return;
            default:
              // The token travels in the Subscribe metadata; an auth frame has no place here.
              return;
          }
        },
        close: () => {
          closedByClient = true;
          abort.abort();
        },
      };
    },
  };
}
