// gRPC clients of core's FileService and UserService for a test user's device,
// and a local blob store with a clock the test moves, served over real HTTP.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChannel, createClient, Metadata, type Channel, type Client } from 'nice-grpc';
import { fileV1, userV1 } from '@im-mesh/contracts';
import { createBlobHttpHandler, LocalDiskBlobStore, type BlobStorage } from '@im-mesh/platform';
import type { CoreHarness } from './core-harness.js';

export type FileClient = Client<typeof fileV1.FileServiceDefinition>;
export type UserClient = Client<typeof userV1.UserServiceDefinition>;

export class ClientsFor {
  private readonly channels: Channel[] = [];

  constructor(private readonly harness: CoreHarness) {}

  files(userId: string, deviceId = 'phone'): FileClient {
    return createClient(fileV1.FileServiceDefinition, this.channel(), { '*': { metadata: this.metadata(userId, deviceId) } });
  }

  users(userId: string, deviceId = 'phone'): UserClient {
    return createClient(userV1.UserServiceDefinition, this.channel(), { '*': { metadata: this.metadata(userId, deviceId) } });
  }

  close(): void {
    for (const channel of this.channels) channel.close();
  }

  private metadata(userId: string, deviceId: string): Metadata {
    return Metadata({ authorization: `Bearer ${this.harness.auth.token(userId, deviceId)}` });
  }

  private channel(): Channel {
    const channel = createChannel(this.harness.core.grpcAddress);
    this.channels.push(channel);
    return channel;
  }
}

/** A LocalDiskBlobStore in a temp folder, its signed URLs served by a real HTTP server, on a clock `advance` moves. */
export interface TestBlobs {
  storage: BlobStorage;
  store: LocalDiskBlobStore;
  /** Moves the clock of URL signing and checking forward. */
  advance(seconds: number): void;
  close(): Promise<void>;
}

export async function startTestBlobs(): Promise<TestBlobs> {
  const root = await mkdtemp(join(tmpdir(), 'im-core-blobs-'));
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const secret = 'test-blob-secret-0123456789abcdef';
  let baseUrl = '';
  const store = new LocalDiskBlobStore({ root, publicBaseUrl: () => baseUrl, secret, now });
  const handler = createBlobHttpHandler(store, secret, { now });
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (!(await handler(req, res))) res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    storage: { store, httpHandler: handler },
    store,
    advance: (seconds) => void (offsetMs += seconds * 1000),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
