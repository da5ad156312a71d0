// Core's configuration: environment variable names are the keys, validated once
// at start so a bad value fails with a message naming the variable.
import { blobStorageConfigShape, env, loadConfig, pushNotifierConfigShape, serviceCredentialsConfig, type ConfigSource, tokenAudienceConfig } from '@im-mesh/platform';
import { fileConfigShape } from './files/file-limits.js';
import { socialConfigShape } from './social/social-rules.js';

export const coreConfigShape = {
  CORE_HOST: env.host('127.0.0.1'),
  CORE_GRPC_PORT: env.port(7002),
  CORE_HTTP_PORT: env.port(7082),
  /** auth's gRPC address (host:port): JWKS for token checks, the user directory. */
  AUTH_ADDRESS: env.host('127.0.0.1:7001'),
  ...tokenAudienceConfig,
  /** Core's service account (SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET), for auth's internal user directory. */
  ...serviceCredentialsConfig,
  /** Uploads: per-kind limits and URL lifetimes (files/file-limits.ts); where bytes live (BLOBS, S3_*). */
  ...fileConfigShape,
  ...blobStorageConfigShape,
  /** Friend requests (social/social-rules.ts). */
  ...socialConfigShape,
  /** Offline push notices (PUSH_NOTIFIER=log|webhook, PUSH_WEBHOOK_*). */
  ...pushNotifierConfigShape,
  /**
   * PostgreSQL connections for client calls (sends, sync, groups...). Commits
   * wait for the WAL flush, and PostgreSQL flushes the commits that wait
   * together in one go, so more connections in flight means more messages per
   * flush, up to what the server's cores can run.
   */
  CORE_DATABASE_POOL_SIZE: env.int(20, 1, 500),
  /**
   * A separate, smaller pool for the work that drains the system: the outbox
   * relay and delivery reports. Client calls queueing for the main pool under
   * load never hold back pushes and acks.
   */
  CORE_INTERNAL_DATABASE_POOL_SIZE: env.int(4, 2, 100),
  /**
   * Sends queued or being written at once in this instance; beyond it SendMessage
   * answers RESOURCE_EXHAUSTED with a retry hint instead of queueing without end.
   */
  CORE_MAX_PENDING_SENDS: env.int(10_000, 1, 1_000_000),
  /**
   * Send transactions in flight at once in this instance (each holds a pool
   * connection); sends arriving while all are busy share the next one, whatever
   * their conversations.
   */
  CORE_SEND_TRANSACTIONS: env.int(4, 1, 100),
  /** How often the outbox relay looks for due rows when nothing woke it, in ms. */
  CORE_OUTBOX_POLL_MS: env.millis(1000, 10),
  /**
   * Failed pushes after which an outbox row is dead-lettered (moved to
   * outbox_dead; the message still reaches devices by sync). With the backoff
   * capped at 30 s, 20 attempts span about 7 minutes of failures.
   */
  CORE_OUTBOX_MAX_ATTEMPTS: env.int(20, 1, 1000),
  /** How long after sending a sender may recall a message, in seconds (group owners and admins are not bound by it). */
  CORE_RECALL_WINDOW_SECONDS: env.int(120, 1, 31_536_000),
  /** Most members a group can have (groups/). */
  CORE_GROUP_MEMBER_LIMIT: env.int(2000, 2, 100_000),
  /**
   * Generated group pictures are rendered once membership has been quiet this
   * long, in ms (a burst of joins renders once), and at the latest after
   * CORE_GROUP_AVATAR_MAX_WAIT_MS; stale ones are looked for every
   * CORE_GROUP_AVATAR_POLL_MS (group-avatars/).
   */
  CORE_GROUP_AVATAR_QUIET_MS: env.millis(1500, 0),
  CORE_GROUP_AVATAR_MAX_WAIT_MS: env.millis(15_000, 0),
  CORE_GROUP_AVATAR_POLL_MS: env.millis(1000, 10),
  LOG_LEVEL: env.logLevel(),
  /** Required by the standalone entry point; the all-in-one passes its own URL. */
  DATABASE_URL: env.optionalString(),
};

export type CoreConfig = ReturnType<typeof loadCoreConfig>;

/** Reads and validates core's configuration from `source` (process.env by default). */
export function loadCoreConfig(source?: ConfigSource) {
  return loadConfig(coreConfigShape, source);
}
