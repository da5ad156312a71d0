// BlobStore on the local disk, for the all-in-one and single-node installs.
// Files are named by the SHA-256 of their key (so keys never become paths, and
// "a" and "a/b" can both exist) under <root>/<2 hex>/: a metadata file
// <hash>.json {key, size, contentType, file} names the data file <hash>.<random>.
// A write lands in a temp file, is renamed into place, then the metadata is
// renamed over the old one: readers see the old blob or the new one, never a mix.
// Presigned URLs point at createBlobHttpHandler (blob-http-handler.ts).
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open as openFile, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError, ErrorCode } from '../../errors/app-error.js';
import type { BlobInfo, BlobStore, PresignedUpload } from './blob-store.js';
import { assertBlobKey, assertWritableBlob, secretBytes, signBlobUrl, type BlobUrlGrant } from './blob-url-signature.js';

export interface LocalDiskBlobStoreOptions {
  /** Directory holding the blobs; created when missing. */
  root: string;
  /**
   * Where clients reach the blob HTTP handler, e.g. "http://127.0.0.1:9191". A
   * function is asked each time a URL is signed, for a port bound after the
   * store was made (the all-in-one's edge).
   */
  publicBaseUrl: string | (() => string);
  /** HMAC key for presigned URLs, at least 16 bytes; share it with createBlobHttpHandler. */
  secret: string | Uint8Array;
  /** Largest blob accepted, in bytes. 100 MiB by default. */
  maxBlobBytes?: number;
  /** Longest URL lifetime granted, in seconds. 7 days by default (as S3). */
  maxUrlLifetimeSeconds?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
}

interface Metadata {
  key: string;
  size: number;
  contentType: string;
  /** Data file name, in the same folder. */
  file: string;
}

/** A blob opened for reading; the handle stays valid even if the blob is replaced meanwhile. */
export interface OpenedBlob {
  info: BlobInfo;
  handle: FileHandle;
}

export class LocalDiskBlobStore implements BlobStore {
  readonly root: string;
  readonly maxBlobBytes: number;
  private readonly secret: Buffer;
  private readonly maxUrlLifetimeSeconds: number;
  private readonly now: () => number;
  private readonly baseUrl: () => string;
  /** Per-key chain of metadata switches, so concurrent writers never orphan a data file. */
  private readonly commits = new Map<string, Promise<unknown>>();

  constructor(options: LocalDiskBlobStoreOptions) {
    this.root = options.root;
    const base = options.publicBaseUrl;
    this.baseUrl = typeof base === 'string' ? () => base : base;
    this.secret = secretBytes(options.secret);
    this.maxBlobBytes = options.maxBlobBytes ?? 100 * 1024 * 1024;
    this.maxUrlLifetimeSeconds = options.maxUrlLifetimeSeconds ?? 7 * 24 * 3600;
    this.now = options.now ?? Date.now;
  }

  /** Where clients reach the blob HTTP handler, without a trailing slash. */
  get publicBaseUrl(): string {
    return this.baseUrl().replace(/\/+$/, '');
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    assertWritableBlob(key, contentType, bytes.length, this.maxBlobBytes);
    const dir = await this.folderOf(key);
    const temp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(temp, bytes, { flag: 'wx' });
      await this.commit(key, temp, bytes.length, contentType);
    } finally {
      await rm(temp, { force: true });
    }
  }

  /**
   * Streams `source` into the blob, which must be exactly `exactBytes` long:
   * stops reading with RESOURCE_EXHAUSTED (reason BLOB_TOO_LARGE) as soon as it
   * is longer, fails with INVALID_ARGUMENT (BLOB_LENGTH_MISMATCH) when shorter.
   * Nothing is stored unless the whole body arrived.
   */
  async putStream(key: string, source: AsyncIterable<Uint8Array>, contentType: string, exactBytes: number): Promise<BlobInfo> {
    assertWritableBlob(key, contentType, exactBytes, this.maxBlobBytes);
    const dir = await this.folderOf(key);
    const temp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    let received = 0;
    // Create the file before streaming: a lazily opened write stream could create
    // it after a failed pipeline's cleanup has run, leaving a stray temp file.
    const file = await openFile(temp, 'wx');
    try {
      await pipeline(
        source,
        async function* countBytes(chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            received += chunk.length;
            if (received > exactBytes) {
              throw new AppError(ErrorCode.ResourceExhausted, `The upload is larger than the ${exactBytes} bytes it was signed for.`, {
                reason: 'BLOB_TOO_LARGE',
              });
            }
            yield chunk;
          }
        },
        file.createWriteStream(),
      );
      if (received !== exactBytes) {
        throw AppError.invalidArgument(`The upload has ${received} bytes but was signed for ${exactBytes}.`, 'BLOB_LENGTH_MISMATCH');
      }
      await this.commit(key, temp, received, contentType);
      return { key, size: received, contentType };
    } finally {
      await file.close().catch(() => undefined); // Already closed by the stream on success.
      await rm(temp, { force: true });
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const opened = await this.open(key);
    if (!opened) return undefined;
    try {
      return new Uint8Array(await opened.handle.readFile());
    } finally {
      await opened.handle.close();
    }
  }

  async readHead(key: string, maxBytes: number): Promise<Uint8Array | undefined> {
    const opened = await this.open(key);
    if (!opened) return undefined;
    try {
      const wanted = Math.max(0, Math.min(maxBytes, opened.info.size));
      const buffer = Buffer.alloc(wanted);
      const { bytesRead } = await opened.handle.read(buffer, 0, wanted, 0);
      return new Uint8Array(buffer.subarray(0, bytesRead));
    } finally {
      await opened.handle.close();
    }
  }

  /** Opens the blob for streaming; the caller closes `handle`. Undefined when missing. */
  async open(key: string): Promise<OpenedBlob | undefined> {
    assertBlobKey(key);
    // A concurrent put or delete may remove the data file between reading the
    // metadata and opening it: read the metadata again once.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const meta = await this.readMetadata(key);
      if (!meta) return undefined;
      try {
        const handle = await openFile(join(this.dirOf(key), meta.file), 'r');
        return { info: { key, size: meta.size, contentType: meta.contentType }, handle };
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    return undefined;
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    assertBlobKey(key);
    const meta = await this.readMetadata(key);
    return meta && { key, size: meta.size, contentType: meta.contentType };
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await this.serialized(key, async () => {
      const meta = await this.readMetadata(key);
      if (!meta) return;
      await rm(this.metadataPath(key), { force: true });
      await rm(join(this.dirOf(key), meta.file), { force: true });
    });
  }

  async presignUpload(
    key: string,
    options: { contentType: string; contentLength: number; expiresInSeconds: number },
  ): Promise<PresignedUpload> {
    assertWritableBlob(key, options.contentType, options.contentLength, this.maxBlobBytes);
    const exp = this.expiryOf(options.expiresInSeconds);
    const grant: BlobUrlGrant = { op: 'put', key, exp, len: options.contentLength, type: options.contentType };
    return {
      url: signBlobUrl(this.publicBaseUrl, this.secret, grant),
      method: 'PUT',
      headers: { 'content-type': options.contentType },
      expiresAt: new Date(exp * 1000),
    };
  }

  async presignDownload(key: string, options: { expiresInSeconds: number }): Promise<string> {
    assertBlobKey(key);
    return signBlobUrl(this.publicBaseUrl, this.secret, { op: 'get', key, exp: this.expiryOf(options.expiresInSeconds) });
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }


  private expiryOf(expiresInSeconds: number): number {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > this.maxUrlLifetimeSeconds) {
      throw AppError.invalidArgument(`A link must expire in 1 to ${this.maxUrlLifetimeSeconds} whole seconds.`);
    }
    // Rounded up, so a link never lives shorter than promised (up to 1 s longer).
    return Math.ceil(this.now() / 1000) + expiresInSeconds;
  }

  /** Moves the finished temp file into place and switches the metadata to it. */
  private async commit(key: string, temp: string, size: number, contentType: string): Promise<void> {
    const dir = this.dirOf(key);
    const file = `${hashOf(key)}.${randomBytes(8).toString('hex')}`;
    await rename(temp, join(dir, file));
    await this.serialized(key, async () => {
      const previous = await this.readMetadata(key);
      const metaTemp = join(dir, `.tmp-${randomBytes(8).toString('hex')}.json`);
      const meta: Metadata = { key, size, contentType, file };
      await writeFile(metaTemp, JSON.stringify(meta), { flag: 'wx' });
      await rename(metaTemp, this.metadataPath(key));
      if (previous && previous.file !== file) await rm(join(dir, previous.file), { force: true });
    });
  }

  private async serialized<T>(key: string, step: () => Promise<T>): Promise<T> {
    const before = this.commits.get(key) ?? Promise.resolve();
    const run = before.then(step, step);
    const settled = run.catch(() => undefined);
    this.commits.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.commits.get(key) === settled) this.commits.delete(key);
    }
  }

  private async readMetadata(key: string): Promise<Metadata | undefined> {
    let text: string;
    try {
      text = await readFile(this.metadataPath(key), 'utf8');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const meta = JSON.parse(text) as Metadata;
    // Two keys with one SHA-256 do not happen; this guards against a hand-edited folder.
    return meta.key === key ? meta : undefined;
  }

  private async folderOf(key: string): Promise<string> {
    const dir = this.dirOf(key);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  private dirOf(key: string): string {
    return join(this.root, hashOf(key).slice(0, 2));
  }

  private metadataPath(key: string): string {
    return join(this.dirOf(key), `${hashOf(key)}.json`);
  }
}

function hashOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}
