// @im-mesh/core: messages, per-conversation seq, the outbox relay, sync and
// receipts. `startCoreService` is the composition root the all-in-one and
// main.ts share; which presence registry and push bus run is their choice.
import type { DataSource } from 'typeorm';
import {
  AccessTokenVerifier,
  authorizeCalls,
  createGrpcServer,
  createServiceClient,
  createServiceRegistry,
  keyServiceJwks,
  openChannel,
  openDatabase,
  registerPushBusMetrics,
  serviceCredentialsFrom,
  serviceTokenSourceFor,
  requireAccessToken,
  startServiceHttpServer,
  type Logger,
  type PresenceRegistry,
  type PushBus,
  type ReadinessCheck,
  type RunningService,
  type BlobStorage,
  type ServiceHttpServer,
} from '@im-mesh/platform';
import { adminV1, fileV1, groupV1, internalV1, messageV1, userV1 } from '@im-mesh/contracts';
import { messageAdminService, MESSAGE_ADMIN_PERMISSIONS } from './admin/message-admin-service.js';
import { SystemMessages } from './admin/system-messages.js';
import { openFilesAndSocial, type FilesAndSocial } from './files-and-social.js';
import type { CoreConfig } from './config.js';
import { createCoreMetrics } from './core-metrics.js';
import { BlobCustomAvatarStore } from './group-avatars/custom-avatar-store.js';
import { GroupAvatarRenderer } from './group-avatars/group-avatar-renderer.js';
import { CoreMemberProfiles } from './group-avatars/member-profiles.js';
import { GroupAccess } from './groups/group-access.js';
import { GroupLifecycle } from './groups/group-lifecycle.js';
import { GroupMembership } from './groups/group-membership.js';
import { GroupQueries } from './groups/group-queries.js';
import { GroupSendPolicy } from './groups/group-send-policy.js';
import { groupService } from './groups/group-service.js';
import { GroupStore } from './storage/group-store.js';
import { ConversationSync } from './messages/conversation-sync.js';
import { MessageEvents } from './messages/message-events.js';
import { MessageSender } from './messages/send-message.js';
import { TypingRelay } from './messages/typing-relay.js';
import { GroupReads } from './receipts/group-reads.js';
import { MessageSearch } from './search/message-search.js';
import { MessageSearchStore } from './storage/message-search-store.js';
import { MessageStateStore } from './storage/message-state-store.js';
import { ReadCountStore } from './storage/read-count-store.js';
import { OutboxRelay } from './outbox/outbox-relay.js';
import { Pusher } from './push/pusher.js';
import { DeliveryReceipts } from './receipts/delivery-receipts.js';
import { ReadReceipts } from './receipts/read-receipts.js';
import { deliveryService, messageService, typingService } from './service.js';
import { ConversationStore } from './storage/conversation-store.js';
import { MessageStore } from './storage/message-store.js';
import { coreMigrations } from './storage/migrations/index.js';
import { OutboxStore } from './storage/outbox-store.js';
import { GrpcUserDirectory, type UserDirectory } from './upstream/user-directory.js';

export { coreConfigShape, loadCoreConfig, type CoreConfig } from './config.js';
export { directConversationId } from './messages/direct-conversation.js';
export type { UserDirectory } from './upstream/user-directory.js';

export interface CoreServiceOptions {
  config: CoreConfig;
  logger: Logger;
  databaseUrl: string;
  presence: PresenceRegistry;
  bus: PushBus;
  /**
   * The blob store for FileService; opened from BLOBS=local|s3 when omitted (a
   * local store's URLs are then served on core's own HTTP port). Belongs to the caller when given.
   */
  blobs?: BlobStorage;
  /**
   * The access-token verifier to use instead of the service's own (the all-in-one
   * passes one to edge, core and connect: one key set and one cache of verified
   * tokens per process, so a token is signature-checked once, not by each).
   */
  tokenVerifier?: AccessTokenVerifier;
}

/**
 * Opens core's schema (running migrations), starts the gRPC server
 * (MessageService, DeliveryService), the ops HTTP server and the outbox relay.
 * Port 0 binds a free port; the bound addresses are in the result. `stop()`
 * stops accepting calls, lets calls and the relay batch in flight finish, then
 * closes the database and the auth channel. The presence registry and push bus
 * belong to the caller and stay open.
 */
export async function startCoreService(options: CoreServiceOptions): Promise<RunningService> {
  const { config, presence, bus } = options;
  const logger = options.logger.child({ component: 'core' });
  const database = await openDatabase({
    url: options.databaseUrl,
    schema: 'core',
    migrations: coreMigrations,
    logger,
    poolSize: config.CORE_DATABASE_POOL_SIZE,
  });
  let internalDatabase: DataSource | undefined;
  const auth = openChannel(config.AUTH_ADDRESS);
  let filesAndSocial: FilesAndSocial | undefined;
  const cleanup = async () => {
    await filesAndSocial?.close();
    auth.close();
    await internalDatabase?.destroy();
    await database.destroy();
  };

  try {
    // Bulkheads: the relay, delivery reports and typing get their own connections.
    internalDatabase = await openDatabase({
      url: options.databaseUrl,
      schema: 'core',
      migrations: [],
      runMigrations: false,
      logger,
      poolSize: config.CORE_INTERNAL_DATABASE_POOL_SIZE,
      applicationName: 'im-core-internal',
    });
    const verifier =
      options.tokenVerifier ??
      new AccessTokenVerifier({
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        source: keyServiceJwks(auth),
      });
    // Core's own service account, for auth's internal UserDirectoryService.
    const credentials = serviceCredentialsFrom(config);
    const serviceToken = credentials && serviceTokenSourceFor(auth.channel, credentials);
    const directory = new GrpcUserDirectory(
      createServiceClient(internalV1.UserDirectoryServiceDefinition, auth.channel, { serviceToken }),
      logger,
    );
    const messageStore = new MessageStore(database, { maxPendingSends: config.CORE_MAX_PENDING_SENDS, maxSendTransactions: config.CORE_SEND_TRANSACTIONS });
    const conversationStore = new ConversationStore(database);
    const messageStateStore = new MessageStateStore(database);
    const outboxStore = new OutboxStore(internalDatabase);
    const internalConversationStore = new ConversationStore(internalDatabase);
    const metrics = createServiceRegistry('core');
    const coreMetrics = createCoreMetrics(metrics, () => outboxStore.stats());
    registerPushBusMetrics(metrics, bus);
    const pusher = new Pusher(presence, bus, coreMetrics);
    const relay = new OutboxRelay({
      store: outboxStore,
      pusher,
      metrics: coreMetrics,
      logger: logger.child({ component: 'outbox-relay' }),
      databaseUrl: options.databaseUrl,
      pollIntervalMs: config.CORE_OUTBOX_POLL_MS,
      maxAttempts: config.CORE_OUTBOX_MAX_ATTEMPTS,
      onRecipientsOffline: (message, userIds) => social.onRecipientsOffline(message, userIds),
    });
    let http: ServiceHttpServer | undefined;
    const social = await openFilesAndSocial({
      config,
      logger,
      database,
      directory,
      blobs: options.blobs,
      ownHttpUrl: () => `http://${http?.address ?? `${config.CORE_HOST}:${config.CORE_HTTP_PORT}`}`,
      wakeRelay: () => relay.wake(),
      metrics,
    });
    filesAndSocial = social;

    const groupStore = new GroupStore(database);
    const groupSendPolicy = new GroupSendPolicy();
    const avatars = new GroupAvatarRenderer({
      database,
      groups: groupStore,
      blobs: social.blobStore,
      profiles: new CoreMemberProfiles(
        database,
        social.blobStore,
        createServiceClient(internalV1.UserDirectoryServiceDefinition, auth.channel, { serviceToken }),
        logger.child({ component: 'group-avatars' }),
      ),
      logger: logger.child({ component: 'group-avatars' }),
      quietMs: config.CORE_GROUP_AVATAR_QUIET_MS,
      maxWaitMs: config.CORE_GROUP_AVATAR_MAX_WAIT_MS,
      pollMs: config.CORE_GROUP_AVATAR_POLL_MS,
      onStored: () => relay.wake(),
    });
    const groupAccess = new GroupAccess({
      store: groupStore,
      memberLimit: config.CORE_GROUP_MEMBER_LIMIT,
      avatarUrl: (key) => social.blobStore.presignDownload(key, { expiresInSeconds: 3600 }),
      onChanged: () => {
        relay.wake();
        avatars.wake();
      },
    });

    const server = createGrpcServer({ logger });
    server.addWith(
      requireAccessToken(verifier),
      messageV1.MessageServiceDefinition,
      messageService({
        sender: new MessageSender(messageStore, messageStateStore, directory, coreMetrics, () => relay.wake(), [groupSendPolicy, social.sendPolicy]),
        events: new MessageEvents(messageStateStore, {
          recallWindowSeconds: config.CORE_RECALL_WINDOW_SECONDS,
          onStored: () => relay.wake(),
          pusher,
          logger,
          recallAuthority: groupSendPolicy,
        }),
        groupReads: new GroupReads(new ReadCountStore(database)),
        search: new MessageSearch(new MessageSearchStore(database)),
        sync: new ConversationSync(conversationStore, messageStore),
        reads: new ReadReceipts(conversationStore, pusher, logger),
      }),
    );
    server.addWith(
      requireAccessToken(verifier),
      groupV1.GroupServiceDefinition,
      groupService({
        lifecycle: new GroupLifecycle(groupAccess, directory, new BlobCustomAvatarStore(social.blobStore)),
        membership: new GroupMembership(groupAccess, directory),
        reads: new GroupQueries(groupAccess),
      }),
    );
    server.addWith(requireAccessToken(verifier), fileV1.FileServiceDefinition, social.fileService);
    server.addWith(requireAccessToken(verifier), userV1.UserServiceDefinition, social.userService);
    // Connect nodes call these with their service token; nothing else may.
    server.addWith(
      authorizeCalls(verifier, { ReportDelivered: 'internal.call' }),
      internalV1.DeliveryServiceDefinition,
      deliveryService(new DeliveryReceipts(internalConversationStore, pusher, logger)),
    );
    server.addWith(
      authorizeCalls(verifier, { RelayTyping: 'internal.call' }),
      internalV1.TypingServiceDefinition,
      // Typing is client-driven: it stays on the client pool, away from the relay's.
      typingService(new TypingRelay(conversationStore, pusher)),
    );
    server.addWith(
      authorizeCalls(verifier, MESSAGE_ADMIN_PERMISSIONS),
      adminV1.MessageAdminServiceDefinition,
      messageAdminService(new SystemMessages(database, directory, () => relay.wake()), logger.child({ component: 'admin' })),
    );

    let accepting = true;
    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => void (await database.query('SELECT 1')) },
    ];
    const grpcPort = await server.listen(config.CORE_HOST, config.CORE_GRPC_PORT);
    try {
      http = await startServiceHttpServer(
        config.CORE_HOST,
        config.CORE_HTTP_PORT,
        { registries: [metrics], readiness, isAccepting: () => accepting },
        social.httpHandlers,
      );
      await relay.start();
      avatars.start();
    } catch (error) {
      await server.shutdown();
      await http?.close();
      throw error;
    }
    const grpcAddress = `${config.CORE_HOST}:${grpcPort}`;
    logger.info({ grpcAddress, httpAddress: http.address }, 'core listening');

    let stopping: Promise<void> | undefined;
    const httpServer = http;
    return {
      name: 'core',
      grpcAddress,
      localCalls: server.localCalls,
      httpAddress: http.address,
      metrics,
      readiness,
      stop: () =>
        (stopping ??= (async () => {
          accepting = false;
          await server.shutdown();
          await relay.stop();
          await avatars.stop();
          await httpServer.close();
          await cleanup();
          logger.info('core stopped');
        })()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
