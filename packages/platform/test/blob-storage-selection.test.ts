// BLOBS=local|s3 chooses the blob store from configuration alone. The S3 case
// runs against s3rver, an S3 double (it does not verify signatures; the local
// store's tests cover refusals of tampered URLs).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import {
  blobStorageConfigShape,
  createLogger,
  LocalDiskBlobStore,
  loadConfig,
  openBlobStorage,
  S3BlobStore,
  ConfigError,
} from '@im-mesh/platform';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('BLOBS selection', () => {
  let directory = '';
  let s3: S3rver | undefined;
  let s3Endpoint = '';

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'im-blob-selection-'));
    s3 = new S3rver({ address: '127.0.0.1', port: 0, directory: join(directory, 's3'), silent: true });
    s3Endpoint = `http://127.0.0.1:${((await s3.run()) as AddressInfo).port}`;
  });
  after(async () => {
    await s3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('the default is the local disk, with a handler serving its URLs at the public address known later', async () => {
    let publicUrl = 'http://not-yet-bound.invalid';
    const config = loadConfig(blobStorageConfigShape, { BLOBS_DIR: join(directory, 'local'), BLOBS_SECRET: 'a-secret-of-sixteen-bytes' });
    assert.equal(config.BLOBS, 'local');
    const blobs = await openBlobStorage(config, { logger, defaultPublicUrl: () => publicUrl });
    assert.ok(blobs.store instanceof LocalDiskBlobStore);
    assert.ok(blobs.httpHandler);
    publicUrl = 'http://127.0.0.1:9191';
    assert.match(await blobs.store.presignDownload('a/b', { expiresInSeconds: 60 }), /^http:\/\/127\.0\.0\.1:9191\/blobs\/a\/b\?/);
    await blobs.store.close();
  });

  test('local blob URLs answer browser preflights and allow any origin (the signature is the permission)', async () => {
    const config = loadConfig(blobStorageConfigShape, { BLOBS_DIR: join(directory, 'cors'), BLOBS_SECRET: 'a-secret-of-sixteen-bytes' });
    let base = '';
    const blobs = await openBlobStorage(config, { logger, defaultPublicUrl: () => base });
    const server = createServer((req, res) => void blobs.httpHandler!(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const upload = await blobs.store.presignUpload('pics/one.png', { contentType: 'image/png', contentLength: 3, expiresInSeconds: 60 });
      const preflight = await fetch(upload.url, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /content-type/);
      const put = await fetch(upload.url, { method: 'PUT', headers: { ...upload.headers, origin: 'https://app.example.com' }, body: new Uint8Array([1, 2, 3]) });
      assert.equal(put.status, 200);
      assert.equal(put.headers.get('access-control-allow-origin'), '*');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('BLOBS_PUBLIC_URL wins over the default address', async () => {
    const config = loadConfig(blobStorageConfigShape, { BLOBS_DIR: join(directory, 'local'), BLOBS_PUBLIC_URL: 'https://files.example.com' });
    const blobs = await openBlobStorage(config, { logger, defaultPublicUrl: () => 'http://127.0.0.1:1' });
    assert.match(await blobs.store.presignDownload('k', { expiresInSeconds: 60 }), /^https:\/\/files\.example\.com\/blobs\/k\?/);
  });

  test('BLOBS=s3 opens the S3 store (s3rver double), creating the bucket, and serves no handler of its own', async () => {
    const config = loadConfig(blobStorageConfigShape, {
      BLOBS: 's3',
      S3_ENDPOINT: s3Endpoint,
      S3_BUCKET: 'selection-test',
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
    });
    const blobs = await openBlobStorage(config, { logger });
    try {
      assert.ok(blobs.store instanceof S3BlobStore);
      assert.equal(blobs.httpHandler, undefined);
      await blobs.store.put('hello.txt', Buffer.from('hi'), 'text/plain');
      assert.deepEqual(await blobs.store.stat('hello.txt'), { key: 'hello.txt', size: 2, contentType: 'text/plain' });
    } finally {
      await blobs.store.close();
    }
  });

  test('BLOBS=s3 without credentials, or an unknown BLOBS value, fails at start naming the setting', async () => {
    const config = loadConfig(blobStorageConfigShape, { BLOBS: 's3', S3_ENDPOINT: s3Endpoint });
    await assert.rejects(openBlobStorage(config, { logger }), /S3_ACCESS_KEY and S3_SECRET_KEY/);
    assert.throws(() => loadConfig(blobStorageConfigShape, { BLOBS: 'ftp' }), (error: unknown) => error instanceof ConfigError && /BLOBS/.test(error.message));
  });

  test('BLOBS=s3 pointing at storage that is not there fails with a message naming it', async () => {
    const config = loadConfig(blobStorageConfigShape, {
      BLOBS: 's3',
      S3_ENDPOINT: 'http://127.0.0.1:1',
      S3_ACCESS_KEY: 'k',
      S3_SECRET_KEY: 's',
    });
    await assert.rejects(openBlobStorage(config, { logger }), /S3 storage at http:\/\/127\.0\.0\.1:1 \(bucket im-mesh\) cannot be used/);
  });
});
