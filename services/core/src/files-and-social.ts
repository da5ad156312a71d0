// Composition of core's file and social features: FileService and UserService
// over the shared database, the blob store (opened from BLOBS=local|s3 unless
// the caller brings one), the social send policy for MessageSender, and the
// offline push notifier (PUSH_NOTIFIER=log|webhook) for the outbox relay.
import {
  openBlobStorage,
  openPushNotifier,
  type BlobStorage,
  type BlobStore,
  type BlobStorageConfig,
  type HttpHandler,
  type Logger,
  type PushNotifier,
  type PushNotifierConfig,
} from '@im-mesh/platform';
import { fileV1, userV1 } from '@im-mesh/contracts';
import { Counter, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { fileService } from './files/file-service.js';
import type { FileConfig } from './files/file-limits.js';
import { FileUploads } from './files/file-uploads.js';
import { UploadSweeper } from './files/upload-sweeper.js';
import { offlineNotifier } from './push/offline-notices.js';
import type { MessageRow } from './storage/message-store.js';
import { Blocks } from './social/blocks.js';
import { Friends } from './social/friends.js';
import { Profiles } from './social/profiles.js';
import { SocialSendPolicy } from './social/social-send-policy.js';
import { userService } from './social/user-service.js';
import { FileStore } from './storage/file-store.js';
import { SocialStore } from './storage/social-store.js';
import type { UserDirectory, UserNames } from './upstream/user-directory.js';

export type FilesAndSocialConfig = FileConfig &
  BlobStorageConfig &
  PushNotifierConfig & { CORE_FRIEND_REQUEST_TTL_SECONDS: number; CORE_FRIEND_LIMIT: number; CORE_PHONE_SEARCH_DEFAULT: boolean };

export interface FilesAndSocialOptions {
  config: FilesAndSocialConfig;
  logger: Logger;
  database: DataSource;
  directory: UserDirectory & UserNames;
  /** The blob store to use; opened from the configuration (and closed on close) when absent. */
  blobs?: BlobStorage;
  /** BLOBS=local without BLOBS_PUBLIC_URL: where clients reach this service's HTTP port. */
  ownHttpUrl: () => string;
  /** Wakes the outbox relay after social events were stored. */
  wakeRelay: () => void;
  /** Where core_offline_notices_total is registered. */
  metrics?: Registry;
}

export interface FilesAndSocial {
  fileService: ReturnType<typeof fileService>;
  userService: ReturnType<typeof userService>;
  /** For MessageSender's policies (runs on the send's connection before the message is written). */
  sendPolicy: SocialSendPolicy;
  /** For the outbox relay's onRecipientsOffline. */
  onRecipientsOffline: (message: MessageRow, offlineUserIds: string[]) => void;
  /** The blob store FileService uses; other features (group avatars) store their blobs in it too. */
  blobStore: BlobStore;
  /** To mount on this service's HTTP port: local blob URLs when this service opened the local store. */
  httpHandlers: HttpHandler[];
  close(): Promise<void>;
}

export async function openFilesAndSocial(options: FilesAndSocialOptions): Promise<FilesAndSocial> {
  const { config, logger, database } = options;
  const notices = new Counter({
    name: 'core_offline_notices_total',
    help: 'Offline push notices for recipients without a live device, by outcome (delivered, failed after retries, dropped when too many were pending).',
    labelNames: ['outcome'],
    registers: options.metrics ? [options.metrics] : [],
  });
  const notifier: PushNotifier = openPushNotifier(config, logger, (outcome) => notices.inc({ outcome }));
  let blobs: BlobStorage;
  try {
    blobs = options.blobs ?? (await openBlobStorage(config, { logger, defaultPublicUrl: options.ownHttpUrl }));
  } catch (error) {
    await notifier.close();
    throw error;
  }
  const ownsBlobs = options.blobs === undefined;
  const files = new FileStore(database);
  const social = new SocialStore(database);
  const sweeper = new UploadSweeper(files, blobs.store, config.CORE_FILE_SWEEP_INTERVAL_MS, logger.child({ component: 'upload-sweeper' }));
  sweeper.start();
  return {
    fileService: fileService(new FileUploads(files, blobs.store, config, logger.child({ component: 'files' }))),
    userService: userService({
      profiles: new Profiles(social, files, options.directory, config.CORE_PHONE_SEARCH_DEFAULT),
      friends: new Friends(
        social,
        options.directory,
        { requestTtlSeconds: config.CORE_FRIEND_REQUEST_TTL_SECONDS, friendLimit: config.CORE_FRIEND_LIMIT },
        options.wakeRelay,
      ),
      blocks: new Blocks(social),
    }),
    blobStore: blobs.store,
    sendPolicy: new SocialSendPolicy(social),
    onRecipientsOffline: offlineNotifier(notifier, logger),
    httpHandlers: ownsBlobs && blobs.httpHandler ? [blobs.httpHandler] : [],
    async close() {
      await sweeper.stop();
      await notifier.close();
      if (ownsBlobs) await blobs.store.close();
    },
  };
}
