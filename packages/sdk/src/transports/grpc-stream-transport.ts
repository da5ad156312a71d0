// The native gRPC transport: ConnectService.Connect, one bidi stream carrying
// ConnectRequest/ConnectResponse wrappers. The first frame is `auth`; the token
// also rides in the `authorization` metadata for an edge that checks it early.
import type { connectV1 } from '@im-mesh/contracts';
import { Metadata } from 'nice-grpc-common';
import { AsyncQueue } from '../async-queue.js';
import type { ConnectionTransport, TransportAuth, TransportHandlers, TransportSession } from './connection-transport.js';

/** `connect` must come from a native gRPC channel: grpc-web cannot stream from the client. */
export function grpcStreamTransport(connect: connectV1.ConnectServiceClient): ConnectionTransport {
  return {
    kind: 'grpc',
    open(auth: TransportAuth, handlers: TransportHandlers): TransportSession {
      const requests = new AsyncQueue<connectV1.ConnectRequest>();
      const abort = new AbortController();
      let closedByClient = false;
      requests.push({ frame: { kind: { $case: 'auth', value: { accessToken: auth.accessToken } } } });

      void (async () => {
        try {
          const metadata = Metadata({ authorization: `Bearer ${auth.accessToken}` });
          for await (const response of connect.connect(requests, { metadata, signal: abort.signal })) {
            if (response.frame !== undefined) handlers.onFrame(response.frame);
          }
          handlers.onClose();
        } catch (error) {
          handlers.onClose(closedByClient ? undefined : error);
        } finally {
          requests.end();
        }
      })();

      return {
        send: async (frame) => {
          if (requests.isEnded) throw new Error('The gRPC stream is closed.');
          requests.push({ frame });
        },
        close: () => {
          closedByClient = true;
          requests.end();
          abort.abort();
        },
      };
    },
  };
}
