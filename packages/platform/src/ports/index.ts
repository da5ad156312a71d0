// Ports and their adapters. Which adapter runs is chosen in one place, the
// composition root of each process, from validated configuration.
export { MemoryPresenceRegistry } from './presence/memory-presence-registry.js';
export { MemoryPushBus } from './push-bus/memory-push-bus.js';
export {
  RabbitMqPushBus,
  DEFAULT_RABBITMQ_URL,
  redactAmqpUrl,
  type RabbitMqPushBusOptions,
  type RabbitMqPushBusCounters,
} from './push-bus/rabbitmq-push-bus.js';
export { MemoryEphemeralStore } from './ephemeral-store/memory-ephemeral-store.js';
export { MemoryRateLimiter } from './rate-limiter/memory-rate-limiter.js';
export { StaticServiceRegistry } from './service-registry/static-service-registry.js';
export { ConsulServiceRegistry, type ConsulServiceRegistryOptions } from './service-registry/consul-service-registry.js';
export { registerConsulResolver, CONSUL_SCHEME } from './service-registry/consul-resolver.js';
export { watchConsulKv, type ConsulKvWatch, type ConsulKvWatchOptions, type ConsulSettings } from './service-registry/consul-kv-watch.js';
export { DEFAULT_CONSUL_URL, type BlockingQueryOptions, type ConsulConnectionOptions } from './service-registry/consul-http.js';
export { liveSetting, type LiveSetting, type LiveSettingsSource, type SettingsSnapshot } from './live-settings/live-settings.js';
export { MemoryLiveSettings } from './live-settings/memory-live-settings.js';
export { ConsulLiveSettings, type ConsulLiveSettingsOptions } from './live-settings/consul-live-settings.js';
export { LocalDiskBlobStore, type LocalDiskBlobStoreOptions, type OpenedBlob } from './blob-store/local-disk-blob-store.js';
export { S3BlobStore, type S3BlobStoreOptions } from './blob-store/s3-blob-store.js';
export { createBlobHttpHandler, type BlobHttpHandlerOptions } from './blob-store/blob-http-handler.js';
export type { OfflineNotice, OfflineNoticePayload, PushNotifier } from './push-notifier/push-notifier.js';
export { LogPushNotifier, type LogPushNotifierOptions } from './push-notifier/log-push-notifier.js';
export {
  WebhookPushNotifier,
  signWebhookBody,
  verifyWebhookSignature,
  SIGNATURE_HEADER,
  DELIVERY_ID_HEADER,
  type WebhookPushNotifierOptions,
  type WebhookCounters,
} from './push-notifier/webhook-push-notifier.js';
export { assertBlobKey, blobKeyProblem } from './blob-store/blob-url-signature.js';
export {
  openRedis,
  closeRedis,
  pingRedis,
  redisReadiness,
  redactRedisUrl,
  defineRedisScript,
  DEFAULT_REDIS_URL,
  type RedisConnectionOptions,
} from './redis-connection.js';
export { RedisPresenceRegistry, type RedisPresenceRegistryOptions } from './presence/redis-presence-registry.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './rate-limiter/redis-rate-limiter.js';
export { RedisEphemeralStore, type RedisEphemeralStoreOptions } from './ephemeral-store/redis-ephemeral-store.js';
