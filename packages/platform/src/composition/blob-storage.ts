// Which blob store runs, chosen from configuration only: BLOBS=local (the
// default: files on this machine's disk, served with HMAC-signed, expiring URLs
// by createBlobHttpHandler, which the process mounts on its public HTTP port) or
// BLOBS=s3 (MinIO or any S3, presigned URLs served by the storage itself).
// Kept beside infrastructure.ts rather than inside it because the local store
// needs the public address of the port that serves it, which the all-in-one
// learns only once its edge is listening.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { env } from '../config/load-config.js';
import type { HttpHandler } from '../ops/ops-http.js';
import { createBlobHttpHandler } from '../ports/blob-store/blob-http-handler.js';
import type { BlobStore } from '../ports/blob-store/blob-store.js';
import { LocalDiskBlobStore } from '../ports/blob-store/local-disk-blob-store.js';
import { S3BlobStore } from '../ports/blob-store/s3-blob-store.js';

export const blobStorageConfigShape = {
  /** Where file bytes live: `local` (this machine's disk) or `s3` (MinIO or any S3). */
  BLOBS: env.oneOf(['local', 's3'], 'local'),
  /** BLOBS=local: the folder holding the files. */
  BLOBS_DIR: env.string('./var/blobs'),
  /**
   * BLOBS=local: the address clients use to reach the port serving /blobs/
   * (e.g. "https://chat.example.com"). The all-in-one uses its edge's address,
   * a standalone core its own HTTP port, when unset.
   */
  BLOBS_PUBLIC_URL: env.optionalString(),
  /**
   * BLOBS=local: the HMAC key (at least 16 bytes) signing blob URLs. A random key
   * per process when unset, which is fine while one process both signs and
   * serves; URLs then stop working when it restarts.
   */
  BLOBS_SECRET: env.optionalString(),
  /** Largest single blob accepted, in bytes (per-kind file limits are lower). */
  BLOBS_MAX_BYTES: env.int(100 * 1024 * 1024, 1),
  /** BLOBS=s3: where this service reaches the storage, e.g. "http://127.0.0.1:9000". */
  S3_ENDPOINT: env.string('http://127.0.0.1:9000'),
  /** BLOBS=s3: where clients reach it (presigned URLs sign the host); S3_ENDPOINT when unset. */
  S3_PUBLIC_ENDPOINT: env.optionalString(),
  S3_REGION: env.nonEmpty('us-east-1'),
  S3_BUCKET: env.nonEmpty('im-mesh'),
  S3_ACCESS_KEY: env.optionalString(),
  S3_SECRET_KEY: env.optionalString(),
};

export interface BlobStorageConfig {
  BLOBS: 'local' | 's3';
  BLOBS_DIR: string;
  BLOBS_PUBLIC_URL?: string | undefined;
  BLOBS_SECRET?: string | undefined;
  BLOBS_MAX_BYTES: number;
  S3_ENDPOINT: string;
  S3_PUBLIC_ENDPOINT?: string | undefined;
  S3_REGION: string;
  S3_BUCKET: string;
  S3_ACCESS_KEY?: string | undefined;
  S3_SECRET_KEY?: string | undefined;
}

export interface BlobStorage {
  store: BlobStore;
  /**
   * BLOBS=local: serves the store's signed URLs (GET/HEAD/PUT under /blobs/);
   * mount it on the HTTP port BLOBS_PUBLIC_URL points at. Absent for S3, which
   * serves its own URLs.
   */
  httpHandler?: HttpHandler;
}

export interface BlobStorageOptions {
  logger: Logger;
  /**
   * BLOBS=local without BLOBS_PUBLIC_URL: the public address of the port that
   * will mount httpHandler, asked each time a URL is signed (so it may be known
   * only after the port is bound).
   */
  defaultPublicUrl?: () => string;
}

/**
 * Opens the configured blob store. BLOBS=s3 needs S3_ACCESS_KEY and
 * S3_SECRET_KEY and checks (creating when missing) the bucket, failing with a
 * message naming the storage when it cannot be reached.
 */
export async function openBlobStorage(config: BlobStorageConfig, options: BlobStorageOptions): Promise<BlobStorage> {
  if (config.BLOBS === 's3') {
    if (!config.S3_ACCESS_KEY || !config.S3_SECRET_KEY) {
      throw new Error('BLOBS=s3 needs S3_ACCESS_KEY and S3_SECRET_KEY');
    }
    const store = await S3BlobStore.open({
      endpoint: config.S3_ENDPOINT,
      publicEndpoint: config.S3_PUBLIC_ENDPOINT,
      region: config.S3_REGION,
      bucket: config.S3_BUCKET,
      accessKey: config.S3_ACCESS_KEY,
      secretKey: config.S3_SECRET_KEY,
      maxBlobBytes: config.BLOBS_MAX_BYTES,
    }).catch((error: unknown) => {
      throw new Error(`the S3 storage at ${config.S3_ENDPOINT} (bucket ${config.S3_BUCKET}) cannot be used: ${(error as Error).message}`, {
        cause: error,
      });
    });
    return { store };
  }

  const fixedUrl = config.BLOBS_PUBLIC_URL;
  const publicUrl = fixedUrl ? () => fixedUrl : options.defaultPublicUrl;
  if (!publicUrl) throw new Error('BLOBS=local needs BLOBS_PUBLIC_URL: the address clients use to reach /blobs/');
  if (!config.BLOBS_SECRET) {
    options.logger.info('BLOBS_SECRET is not set: blob URLs are signed with a random key and stop working when this process restarts');
  }
  const secret = config.BLOBS_SECRET ?? randomBytes(32);
  const store = new LocalDiskBlobStore({
    root: resolve(config.BLOBS_DIR),
    publicBaseUrl: publicUrl,
    secret,
    maxBlobBytes: config.BLOBS_MAX_BYTES,
  });
  return { store, httpHandler: createBlobHttpHandler(store, secret, { logger: options.logger.child({ component: 'blobs' }) }) };
}
