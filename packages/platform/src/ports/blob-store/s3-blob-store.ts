// BlobStore on S3 or anything that speaks its API (MinIO, Ceph RGW), through
// the `minio` client, for installs with more than one node.
//
// Two endpoints: `endpoint` is where this service reaches the storage (often a
// private address), `publicEndpoint` is where clients reach it. Presigned URLs
// must name the public one, because SigV4 signs the Host header: a URL signed
// for "minio:9000" fails when a phone sends it to "files.example.com".
// Presigning happens locally (the region is configured, so the client never
// asks the server for it) and works while the storage is down.
//
// Uploads: the contract wants a URL that accepts one PUT of exactly N bytes of
// one type. A presigned PUT cannot carry a size limit as such, but SigV4 signs
// whichever headers are listed in X-Amz-SignedHeaders, and S3 and MinIO both
// recompute the signature from the headers the request really carries (MinIO
// takes Content-Length from the request's actual length). So the upload URL
// signs `content-length`, `content-type` and `host`: any other size or type
// fails with 403 SignatureDoesNotMatch. The minio client refuses to sign those
// two headers (its getSignedHeaders drops them on purpose), so the upload URL
// is minio's own presigned PUT re-signed by signS3Url below with the two
// headers added; minio still decides the address. A presigned POST policy with
// content-length-range would also work, but needs a multipart form upload,
// which the PUT-with-headers interface of blob-store.ts does not describe.
import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Client as MinioClient } from 'minio';
import { AppError } from '../../errors/app-error.js';
import type { BlobInfo, BlobStore, PresignedUpload } from './blob-store.js';
import { assertBlobKey, assertWritableBlob } from './blob-url-signature.js';

export interface S3BlobStoreOptions {
  /** Where this service reaches the storage, e.g. "http://127.0.0.1:9000" (scheme, host, port; no path). */
  endpoint: string;
  /** Where clients reach it, used in presigned URLs. `endpoint` by default. */
  publicEndpoint?: string;
  /** Signing region; "us-east-1" by default (MinIO's default too). */
  region?: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  /** Create the bucket in `open` when it is missing. True by default; false makes a missing bucket an error. */
  createBucket?: boolean;
  /** Largest blob accepted, in bytes. 100 MiB by default. */
  maxBlobBytes?: number;
  /** Longest URL lifetime granted, in seconds. 7 days by default, which is also SigV4's limit. */
  maxUrlLifetimeSeconds?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
}

const SIGV4_MAX_EXPIRY_SECONDS = 7 * 24 * 3600;

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly region: string;
  readonly maxBlobBytes: number;
  private readonly client: MinioClient;
  /** Makes no requests: it only presigns, addressed to the public endpoint. */
  private readonly publicClient: MinioClient;
  private readonly agent: HttpAgent;
  private readonly accessKey: string;
  private readonly secretKey: string;
  private readonly createBucket: boolean;
  private readonly maxUrlLifetimeSeconds: number;
  private readonly now: () => number;

  /** Connects lazily; use `S3BlobStore.open` to also check (and create) the bucket. */
  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.region = options.region ?? 'us-east-1';
    this.accessKey = options.accessKey;
    this.secretKey = options.secretKey;
    this.createBucket = options.createBucket ?? true;
    this.maxBlobBytes = options.maxBlobBytes ?? 100 * 1024 * 1024;
    this.maxUrlLifetimeSeconds = Math.min(options.maxUrlLifetimeSeconds ?? SIGV4_MAX_EXPIRY_SECONDS, SIGV4_MAX_EXPIRY_SECONDS);
    this.now = options.now ?? Date.now;
    const internal = endpointOf(options.endpoint, 'endpoint');
    const external = endpointOf(options.publicEndpoint ?? options.endpoint, 'publicEndpoint');
    // Our own agent, so close() can drop the kept-alive sockets and the process can exit.
    this.agent = internal.useSSL ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const common = { region: this.region, accessKey: this.accessKey, secretKey: this.secretKey, pathStyle: true };
    this.client = new MinioClient({ ...internal, ...common, transportAgent: this.agent });
    this.publicClient = new MinioClient({ ...external, ...common });
  }

  /** A store whose bucket exists: created when missing (unless `createBucket` is false). */
  static async open(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    const store = new S3BlobStore(options);
    try {
      await store.ensureBucket();
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    assertWritableBlob(key, contentType, bytes.length, this.maxBlobBytes);
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await this.call(() => this.client.putObject(this.bucket, key, body, body.length, { 'Content-Type': contentType }));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertBlobKey(key);
    return this.call(async () => {
      const stream = await this.client.getObject(this.bucket, key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    });
  }

  async readHead(key: string, maxBytes: number): Promise<Uint8Array | undefined> {
    // The size first: a range of an empty object is "not satisfiable" (and some
    // S3 doubles drop the connection instead), and a missing key needs no range.
    const info = await this.stat(key);
    if (!info) return undefined;
    const length = Math.min(Math.max(0, maxBytes), info.size);
    if (length === 0) return new Uint8Array();
    return this.call(async () => {
      const stream = await this.client.getPartialObject(this.bucket, key, 0, length);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    });
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    assertBlobKey(key);
    return this.call(async () => {
      const stat = await this.client.statObject(this.bucket, key);
      const contentType = stat.metaData['content-type'];
      return { key, size: stat.size, contentType: typeof contentType === 'string' ? contentType : 'application/octet-stream' };
    });
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    // S3 answers a delete of a missing key with 204, so this is idempotent as it is.
    await this.call(() => this.client.removeObject(this.bucket, key));
  }

  async presignUpload(key: string, options: { contentType: string; contentLength: number; expiresInSeconds: number }): Promise<PresignedUpload> {
    assertWritableBlob(key, options.contentType, options.contentLength, this.maxBlobBytes);
    const date = this.signingDate();
    const expires = this.checkLifetime(options.expiresInSeconds);
    const addressed = await this.publicClient.presignedUrl('PUT', this.bucket, key, expires, {}, date);
    const url = signS3Url({
      method: 'PUT',
      url: addressed,
      // The client's HTTP stack sets Content-Length from the body; browsers forbid setting it by hand.
      signedHeaders: { 'content-length': String(options.contentLength), 'content-type': options.contentType },
      region: this.region,
      accessKey: this.accessKey,
      secretKey: this.secretKey,
      date,
      expiresInSeconds: expires,
    });
    return { url, method: 'PUT', headers: { 'content-type': options.contentType }, expiresAt: new Date(date.getTime() + expires * 1000) };
  }

  async presignDownload(key: string, options: { expiresInSeconds: number }): Promise<string> {
    assertBlobKey(key);
    const expires = this.checkLifetime(options.expiresInSeconds);
    return this.publicClient.presignedGetObject(this.bucket, key, expires, {}, this.signingDate());
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private async ensureBucket(): Promise<void> {
    if (await this.call(() => this.client.bucketExists(this.bucket))) return;
    if (!this.createBucket) {
      throw new Error(`the S3 bucket "${this.bucket}" does not exist and creating it is turned off`);
    }
    try {
      await this.client.makeBucket(this.bucket, this.region);
    } catch (error) {
      // Another instance starting at the same time may have created it first.
      if (!(await this.call(() => this.client.bucketExists(this.bucket)))) {
        throw new Error(`could not create the S3 bucket "${this.bucket}": ${(error as Error).message}`, { cause: error });
      }
    }
  }

  /** Runs one storage call: a missing object reads as undefined, any other failure as UNAVAILABLE. */
  private async call<T>(request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await request();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'NoSuchKey' || code === 'NotFound') return undefined;
      throw AppError.unavailable('The file store cannot be reached right now; please try again.', error);
    }
  }

  /** Now, cut to whole seconds: X-Amz-Date has no fractions, and expiresAt must be exact. */
  private signingDate(): Date {
    return new Date(Math.floor(this.now() / 1000) * 1000);
  }

  private checkLifetime(expiresInSeconds: number): number {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > this.maxUrlLifetimeSeconds) {
      throw AppError.invalidArgument(`A link must expire in 1 to ${this.maxUrlLifetimeSeconds} whole seconds.`);
    }
    return expiresInSeconds;
  }

}

/** The minio client's connection settings from "http(s)://host[:port]". */
function endpointOf(text: string, name: string): { endPoint: string; port: number; useSSL: boolean } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`the S3 ${name} "${text}" is not a URL like "http://127.0.0.1:9000"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the S3 ${name} must start with http:// or https://`);
  // A path prefix cannot work: the path is part of what SigV4 signs, so a proxy that strips it breaks every URL.
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new Error(`the S3 ${name} must be only a scheme, host and port, without path, query or credentials`);
  }
  const useSSL = url.protocol === 'https:';
  return { endPoint: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : useSSL ? 443 : 80, useSSL };
}

export interface S3UrlSigning {
  method: 'GET' | 'PUT';
  /** The object's URL; any X-Amz-* parameters on it are dropped and signed anew. */
  url: string;
  /** Headers, besides Host, the request must carry with exactly these values (lower-case names). */
  signedHeaders: Record<string, string>;
  region: string;
  accessKey: string;
  secretKey: string;
  /** X-Amz-Date; whole seconds. */
  date: Date;
  expiresInSeconds: number;
}

/**
 * A SigV4 query-string presigned URL ("Authenticating Requests: Using Query
 * Parameters" in the S3 API reference), signing Host plus `signedHeaders`, with
 * an UNSIGNED-PAYLOAD body.
 */
export function signS3Url(signing: S3UrlSigning): string {
  const url = new URL(signing.url);
  const amzDate = signing.date.toISOString().slice(0, 19).replace(/[-:]/g, '') + 'Z';
  const scope = `${amzDate.slice(0, 8)}/${signing.region}/s3/aws4_request`;
  const headers = new Map<string, string>([['host', url.host]]);
  for (const [name, value] of Object.entries(signing.signedHeaders)) headers.set(name.toLowerCase(), value.trim().replace(/\s+/g, ' '));
  const headerNames = [...headers.keys()].sort();
  const query = [...url.searchParams].filter(([name]) => !name.toLowerCase().startsWith('x-amz-'));
  query.push(
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${signing.accessKey}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(signing.expiresInSeconds)],
    ['X-Amz-SignedHeaders', headerNames.join(';')],
  );
  const canonicalQuery = query
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalPath = url.pathname.split('/').map((segment) => uriEncode(decodeURIComponent(segment))).join('/');
  const canonicalRequest = [
    signing.method,
    canonicalPath,
    canonicalQuery,
    headerNames.map((name) => `${name}:${headers.get(name)}\n`).join(''),
    headerNames.join(';'),
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer = hmac(`AWS4${signing.secretKey}`, amzDate.slice(0, 8));
  for (const part of [signing.region, 's3', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return `${url.origin}${canonicalPath}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
