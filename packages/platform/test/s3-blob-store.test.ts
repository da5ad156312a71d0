// S3BlobStore against the blob store contract on s3rver, an S3 double started
// here on a free port and a temp folder. s3rver does not verify SigV4
// signatures (any secret works, and so does a changed URL), so the contract's
// tampering, size/type and expiry cases do not run against it; the local-disk
// adapter's tests keep covering that behaviour of the contract. What a real S3
// or MinIO would enforce is checked here on the URLs themselves: the signed
// headers, the expiry, and the signature algorithm against AWS's published
// example and against the minio client's own presigner.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client as MinioClient } from 'minio';
import S3rver from 's3rver';
import { AppError, ErrorCode, S3BlobStore, type S3BlobStoreOptions } from '@im-mesh/platform';
import { describeBlobStoreContract } from '../src/ports/blob-store/blob-store.contract.js';
import { signS3Url } from '../src/ports/blob-store/s3-blob-store.js';

// s3rver knows one account, S3RVER; its secret is never checked for SigV4.
const credentials = { accessKey: 'S3RVER', secretKey: 'S3RVER' };
let server: S3rver | undefined;
let directory = '';
let endpoint = '';

before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'im-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const address = (await server.run()) as AddressInfo;
  endpoint = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

/** A fresh bucket per store, so each test also goes through bucket creation. */
const freshBucket = () => `im-blobs-${randomUUID().slice(0, 13)}`;
const openStore = (options: Partial<S3BlobStoreOptions> = {}) =>
  S3BlobStore.open({ endpoint, bucket: freshBucket(), ...credentials, ...options });

describeBlobStoreContract('S3BlobStore on s3rver (s3rver does not verify signatures: tamper, size/type and expiry cases skipped)', () => openStore(), {
  checksSignatures: false,
});

const bytesOf = (text: string) => new TextEncoder().encode(text);
const paramsOf = (url: string) => Object.fromEntries(new URL(url).searchParams);
const amzDateOf = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace(/[-:]/g, '') + 'Z';

describe('S3BlobStore presigned URLs carry what a real S3 enforces', () => {
  // A fixed clock, and an endpoint nobody listens on: presigning must not touch the network.
  const now = Date.UTC(2026, 10, 27, 10, 30, 15, 700);
  const offline = () =>
    new S3BlobStore({
      endpoint: 'http://10.0.0.1:9000',
      publicEndpoint: 'https://files.example.com',
      region: 'eu-central-1',
      bucket: 'chat-media',
      ...credentials,
      now: () => now,
    });

  test('an upload URL signs content-length, content-type and host, names the public endpoint and expires as asked', async () => {
    const store = offline();
    const upload = await store.presignUpload('uploads/u1/voice.ogg', { contentType: 'audio/ogg', contentLength: 1234, expiresInSeconds: 300 });
    const url = new URL(upload.url);
    assert.equal(`${url.origin}${url.pathname}`, 'https://files.example.com/chat-media/uploads/u1/voice.ogg');
    const params = paramsOf(upload.url);
    assert.equal(params['X-Amz-Algorithm'], 'AWS4-HMAC-SHA256');
    assert.equal(params['X-Amz-Credential'], 'S3RVER/20261127/eu-central-1/s3/aws4_request');
    assert.equal(params['X-Amz-Date'], '20261127T103015Z');
    assert.equal(params['X-Amz-Expires'], '300');
    assert.equal(params['X-Amz-SignedHeaders'], 'content-length;content-type;host');
    assert.match(params['X-Amz-Signature'] ?? '', /^[0-9a-f]{64}$/);
    assert.equal(upload.method, 'PUT');
    assert.deepEqual(upload.headers, { 'content-type': 'audio/ogg' });
    assert.equal(upload.expiresAt.getTime(), Date.UTC(2026, 10, 27, 10, 35, 15));
    // The size and the type are inside the signature: other values sign differently.
    const otherSize = await store.presignUpload('uploads/u1/voice.ogg', { contentType: 'audio/ogg', contentLength: 1235, expiresInSeconds: 300 });
    const otherType = await store.presignUpload('uploads/u1/voice.ogg', { contentType: 'audio/mpeg', contentLength: 1234, expiresInSeconds: 300 });
    const signatures = new Set([upload.url, otherSize.url, otherType.url].map((u) => paramsOf(u)['X-Amz-Signature']));
    assert.equal(signatures.size, 3);
    await store.close();
  });

  test('a download URL signs host, names the public endpoint and expires as asked', async () => {
    const store = offline();
    const url = await store.presignDownload('files/report.pdf', { expiresInSeconds: 60 });
    assert.ok(url.startsWith('https://files.example.com/chat-media/files/report.pdf?'), url);
    const params = paramsOf(url);
    assert.equal(params['X-Amz-Date'], '20261127T103015Z');
    assert.equal(params['X-Amz-Expires'], '60');
    assert.equal(params['X-Amz-SignedHeaders'], 'host');
    assert.match(params['X-Amz-Signature'] ?? '', /^[0-9a-f]{64}$/);
    await store.close();
  });

  test('the URL signer reproduces the presigned URL of the AWS S3 API reference example', () => {
    const url = signS3Url({
      method: 'GET',
      url: 'https://examplebucket.s3.amazonaws.com/test.txt',
      signedHeaders: {},
      region: 'us-east-1',
      accessKey: 'AKIAIOSFODNN7EXAMPLE',
      secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      date: new Date(Date.UTC(2013, 4, 24)),
      expiresInSeconds: 86400,
    });
    assert.equal(
      url,
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
        '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z' +
        '&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
        '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });

  test('signing only host, the URL signer gives the minio client\'s own presigned PUT and GET byte for byte', async () => {
    const minio = new MinioClient({ endPoint: 'files.example.com', port: 8443, useSSL: true, region: 'eu-central-1', pathStyle: true, ...credentials });
    const date = new Date(now - (now % 1000));
    for (const method of ['PUT', 'GET'] as const) {
      const theirs = await minio.presignedUrl(method, 'chat-media', 'groups/g-1/avatar.webp', 900, {}, date);
      const ours = signS3Url({ method, url: theirs, signedHeaders: {}, region: 'eu-central-1', ...credentials, date, expiresInSeconds: 900 });
      assert.equal(ours, theirs);
    }
  });

  test('links outside 1 s to 7 days, and files over the size limit, are refused before signing', async () => {
    const store = new S3BlobStore({ endpoint: 'http://10.0.0.1:9000', bucket: 'chat-media', ...credentials, maxBlobBytes: 10 });
    for (const expiresInSeconds of [0, 1.5, 7 * 24 * 3600 + 1]) {
      await assert.rejects(store.presignDownload('a.txt', { expiresInSeconds }), (e: AppError) => e.code === ErrorCode.InvalidArgument);
    }
    await assert.rejects(
      store.presignUpload('a.txt', { contentType: 'text/plain', contentLength: 11, expiresInSeconds: 60 }),
      (e: AppError) => e.reason === 'BLOB_TOO_LARGE',
    );
    await assert.rejects(store.put('a.txt', new Uint8Array(11), 'text/plain'), (e: AppError) => e.reason === 'BLOB_TOO_LARGE');
    await store.close();
  });

  test('an endpoint with a path, or without http(s), is refused at construction', () => {
    assert.throws(() => new S3BlobStore({ endpoint: 'http://10.0.0.1:9000/s3', bucket: 'b', ...credentials }), /without path/);
    assert.throws(() => new S3BlobStore({ endpoint: 'ftp://10.0.0.1', bucket: 'b', ...credentials }), /http/);
    assert.throws(() => new S3BlobStore({ endpoint: 'http://10.0.0.1', publicEndpoint: 'files.example.com', bucket: 'b', ...credentials }), /publicEndpoint/);
  });
});

describe('S3BlobStore on s3rver: endpoints, bucket and failures', () => {
  test('the service writes through the internal endpoint while URLs name the public one, and those URLs work', async () => {
    const publicEndpoint = endpoint.replace('127.0.0.1', 'localhost');
    const store = await openStore({ publicEndpoint });
    try {
      await store.put('files/a.txt', bytesOf('hello'), 'text/plain');
      const download = await store.presignDownload('files/a.txt', { expiresInSeconds: 60 });
      assert.ok(download.startsWith(`${publicEndpoint}/${store.bucket}/files/a.txt?`), download);
      const answer = await fetch(download);
      assert.equal(await answer.text(), 'hello');
      const upload = await store.presignUpload('files/b.txt', { contentType: 'text/plain', contentLength: 3, expiresInSeconds: 60 });
      assert.ok(upload.url.startsWith(`${publicEndpoint}/`), upload.url);
      const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytesOf('bye') });
      assert.equal(put.status, 200);
      await put.arrayBuffer();
      assert.deepEqual(await store.stat('files/b.txt'), { key: 'files/b.txt', size: 3, contentType: 'text/plain' });
    } finally {
      await store.close();
    }
  });

  test('s3rver refuses our URLs once X-Amz-Date plus X-Amz-Expires has passed (it checks expiry, not signatures)', async () => {
    const store = await openStore();
    try {
      await store.put('files/short.txt', bytesOf('short-lived'), 'text/plain');
      const download = await store.presignDownload('files/short.txt', { expiresInSeconds: 1 });
      const upload = await store.presignUpload('files/late.txt', { contentType: 'text/plain', contentLength: 4, expiresInSeconds: 1 });
      assert.equal(paramsOf(download)['X-Amz-Date'], amzDateOf(upload.expiresAt.getTime() - 1000));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, upload.expiresAt.getTime() - Date.now()) + 1_100));
      const late = await fetch(download);
      assert.equal(late.status, 403);
      assert.doesNotMatch(await late.text(), /short-lived/);
      const lateUpload = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytesOf('late') });
      assert.equal(lateUpload.status, 403);
      await lateUpload.arrayBuffer();
      assert.equal(await store.stat('files/late.txt'), undefined);
    } finally {
      await store.close();
    }
  });

  test('open creates a missing bucket, reopening finds it, and with createBucket false a missing bucket fails open', async () => {
    const bucket = freshBucket();
    const first = await S3BlobStore.open({ endpoint, bucket, ...credentials });
    await first.put('files/kept.txt', bytesOf('kept'), 'text/plain');
    await first.close();
    const again = await S3BlobStore.open({ endpoint, bucket, ...credentials, createBucket: false });
    assert.deepEqual(await again.get('files/kept.txt'), bytesOf('kept'));
    await again.close();
    const missing = freshBucket();
    await assert.rejects(S3BlobStore.open({ endpoint, bucket: missing, ...credentials, createBucket: false }), new RegExp(`"${missing}" does not exist`));
  });

  test('an unreachable store fails calls with UNAVAILABLE and a message that leaks no address', async () => {
    // Port 1 on loopback refuses at once; nothing is retried for a refused connection.
    const store = new S3BlobStore({ endpoint: 'http://127.0.0.1:1', bucket: 'chat-media', ...credentials });
    for (const call of [() => store.get('a.txt'), () => store.stat('a.txt'), () => store.put('a.txt', bytesOf('x'), 'text/plain'), () => store.delete('a.txt')]) {
      await assert.rejects(call(), (e: unknown) => e instanceof AppError && e.code === ErrorCode.Unavailable && !e.message.includes('127.0.0.1'));
    }
    await store.close();
  });
});
