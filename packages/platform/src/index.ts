// The public surface of @im-mesh/platform: the runtime every service shares.
export { AppError, ErrorCode, errorCodeOfGrpcStatus, grpcStatusOfErrorCode, type AppErrorOptions } from './errors/app-error.js';
export { loadConfig, ConfigError, env, tokenAudienceConfig, type ConfigSource } from './config/load-config.js';
export { createLogger, REDACTED_PATHS, type Logger, type LoggerOptions } from './logging/logger.js';
export { createServiceRegistry, processMetricsRegistry, renderMetrics } from './metrics/metrics.js';
export { registerPushBusMetrics, type PushBusMetricsOptions } from './metrics/push-bus-metrics.js';
export { handleOpsRequest, startServiceHttpServer, type HttpHandler, type OpsEndpoints, type ReadinessCheck, type ServiceHttpServer } from './ops/ops-http.js';
export { Shutdown } from './lifecycle/shutdown.js';
export { uuidv7, isUuid } from './ids/uuid7.js';
export * from './crypto/index.js';
export { createGrpcServer, type GrpcServer, type GrpcServerOptions } from './grpc/grpc-server.js';
export { encodeGrpcMessage, FRAME_HEADER_BYTES, type LocalUnaryCalls, type LocalUnaryHandler, type LocalUnaryRequest, type LocalUnaryResponse } from './grpc/local-unary-calls.js';
export { errorBoundary, toServerError } from './grpc/error-boundary.js';
export { openChannel, createServiceClient, serviceTokenSourceFor, type GrpcClientOptions, type ServiceChannel } from './grpc/grpc-client.js';
export {
  AccessTokenVerifier,
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TYPE,
  SERVICE_ROLES,
  SERVICE_TOKEN_TYPE,
  bearerToken,
  type ServiceRole,
  type ServiceTokenClaims,
  type AccessTokenClaims,
  type AccessTokenVerifierOptions,
  type JsonWebKeySet,
  type JwksSource,
  type TokenAudience,
} from './auth/access-token.js';
export { keyServiceJwks } from './auth/key-service-jwks.js';
export { requireAccessToken, optionalAccessToken, callerOf, type AuthContext, type OptionalAuthContext } from './auth/auth-middleware.js';
export {
  authorizeCalls,
  principalOf,
  type MethodPermissions,
  type Principal,
  type PrincipalContext,
} from './auth/authorize-middleware.js';
export {
  ServiceTokenSource,
  serviceCredentialsConfig,
  serviceCredentialsFrom,
  serviceTokenMiddleware,
  type IssueServiceToken,
  type ServiceCredentials,
} from './auth/service-token-source.js';
export { PERMISSIONS, ROLE_PERMISSIONS, assertPermission, roleGrants, type Permission, type Role } from './auth/permissions.js';
export { openDatabase, type DatabaseOptions } from './storage/database.js';
export { isDatabaseBusy, isDatabaseUnavailable } from './storage/database-unavailable.js';
export { BatchedLookup, type BatchedLookupOptions } from './storage/batched-lookup.js';
export { startEmbeddedPostgres, type EmbeddedDatabase } from './storage/embedded-postgres.js';
export type { DeviceRoute, PresenceRegistry } from './ports/presence/presence-registry.js';
export type { PushBus, PushBusCapabilities, PushHandler, PushMessage, PushSubscription, PublishOutcome } from './ports/push-bus/push-bus.js';
export type { RateLimiter, RateLimit, RateDecision } from './ports/rate-limiter/rate-limiter.js';
export type { EphemeralStore } from './ports/ephemeral-store/ephemeral-store.js';
export type { ServiceRegistry, ServiceInstance } from './ports/service-registry/service-registry.js';
export type { BlobStore, BlobInfo, PresignedUpload } from './ports/blob-store/blob-store.js';
export type { RunningService } from './service/running-service.js';
export * from './ports/index.js';
export {
  infrastructureConfigShape,
  openInfrastructure,
  type Infrastructure,
  type InfrastructureConfig,
  type InfrastructureNeeds,
} from './composition/infrastructure.js';
export { runStandalone, type StandaloneContext, type StandaloneOptions } from './composition/run-standalone.js';
export {
  blobStorageConfigShape,
  openBlobStorage,
  type BlobStorage,
  type BlobStorageConfig,
  type BlobStorageOptions,
} from './composition/blob-storage.js';
export { pushNotifierConfigShape, openPushNotifier, type PushNotifierConfig } from './composition/push-notifier-selection.js';
