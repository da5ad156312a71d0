// One core instance for the failover tests: a real gRPC server answering
// MessageService.SendMessage with a message id naming the instance, so a test
// sees which instance served each call. It can be stopped the way a crashed
// process stops (every connection cut, the port closed) and started again on
// the same port. A client message id starting with "missing-" gets NOT_FOUND,
// an application answer that must not count against the instance.
import { messageV1 } from '@im-mesh/contracts';
import { AppError, createGrpcServer, type GrpcServer, type Logger } from '@im-mesh/platform';

export interface CoreInstance {
  readonly name: string;
  /** "127.0.0.1:port", stable across restarts. */
  readonly address: string;
  /** SendMessage calls that reached this instance. */
  readonly served: number;
  /** Cuts every connection and closes the port, like a process killed with SIGKILL. */
  stop(): void;
  /** Serves again on the same port (a no-op while running). */
  start(): Promise<void>;
}

export async function startCoreInstance(name: string, logger: Logger): Promise<CoreInstance> {
  let server: GrpcServer | undefined;
  let port = 0;
  let served = 0;

  const start = async () => {
    if (server) return;
    const next = createGrpcServer({ logger });
    next.add(messageV1.MessageServiceDefinition, {
      // Every method but SendMessage answers UNIMPLEMENTED.
      ...(Object.fromEntries(Object.keys(messageV1.MessageServiceDefinition.methods).map((name) => [name, unimplemented])) as unknown as messageV1.MessageServiceImplementation),
      async sendMessage(request) {
        served += 1;
        if (request.clientMsgId.startsWith('missing-')) throw new AppError('not_found', 'That conversation does not exist.');
        if (request.clientMsgId.startsWith('busy-')) throw new AppError('unavailable', 'The message store is busy. Try again.');
        return { messageId: `${name}:${request.clientMsgId}`, conversationId: 'conv-1', seq: served, sentAt: new Date() };
      },
    });
    port = await next.listen('127.0.0.1', port);
    server = next;
  };
  await start();

  return {
    name,
    address: `127.0.0.1:${port}`,
    get served() {
      return served;
    },
    stop() {
      server?.forceShutdown();
      server = undefined;
    },
    start,
  };
}

async function unimplemented(): Promise<never> {
  throw new AppError('unimplemented', 'Not part of this test double.');
}
