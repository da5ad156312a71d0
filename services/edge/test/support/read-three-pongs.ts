// Reads a Subscribe stream through the edge until the connect double has sent
// three pong frames, then cancels it. The double never ends the stream, so the
// frames can only arrive if the edge flushes each one; native gRPC and grpc-web
// tests share this, since both clients come from the same generic definitions.
import assert from 'node:assert/strict';
import type { connectV1 } from '@im-mesh/contracts';
import { Metadata } from 'nice-grpc';

type Subscribe = (
  request: connectV1.SubscribeRequest,
  options: { signal: AbortSignal; metadata: Metadata },
) => AsyncIterable<connectV1.SubscribeResponse>;

/** The pongs' client times, in arrival order, after the client cancelled. */
export async function readThreePongsThenCancel(subscribe: Subscribe, accessToken: string): Promise<number[]> {
  const abort = new AbortController();
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      const stream = subscribe({}, { signal: abort.signal, metadata: Metadata({ authorization: `Bearer ${accessToken}` }) });
      for await (const response of stream) {
        if (response.frame?.kind?.$case === 'pong') seen.push(response.frame.kind.value.clientTimeMs);
        if (seen.length === 3) abort.abort();
      }
    })(),
    (error: Error) => error.name === 'AbortError',
  );
  return seen;
}
