// The contract of blob-store.ts as a test suite every adapter runs, presigned
// URLs included, over real HTTP with fetch:
// `describeBlobStoreContract('S3', () => openS3Store(...))`. The local-disk
// adapter passes `serveUrls` to mount its HTTP handler for the test; S3 serves
// its own URLs. Tampering is generic: every query value and the key in the path
// are changed in turn, whatever the adapter names its parameters.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sleep, uniqueName, withAdapter } from '../contract-support.js';
import type { BlobStore } from './blob-store.js';

export interface BlobStoreContractOptions<S extends BlobStore> {
  /**
   * Makes `store`'s presigned URLs answer over HTTP during one test and returns
   * how to stop. Omit when the storage serves its URLs itself (S3, MinIO).
   */
  serveUrls?: (store: S) => Promise<() => Promise<void>>;
  /**
   * Set to false only for a test double known not to check signatures (s3rver);
   * the size/type, tampering and expiry tests then do not run (S3 enforces size
   * and type through the signature, over signed headers). True by default.
   */
  checksSignatures?: boolean;
}

const bytesOf = (text: string) => new TextEncoder().encode(text);
const isRefusal = (status: number) => status >= 400 && status < 500;

/** The same value changed a little: a digit string counts up, anything else changes its first character. */
function alter(value: string): string {
  if (/^\d+$/.test(value)) return String(BigInt(value) + 1n);
  return (value.startsWith('A') ? 'B' : 'A') + value.slice(1);
}

function tamperedVariants(url: string): Array<{ change: string; url: string }> {
  const variants: Array<{ change: string; url: string }> = [];
  for (const name of new URL(url).searchParams.keys()) {
    const changed = new URL(url);
    changed.searchParams.set(name, alter(changed.searchParams.get(name) ?? ''));
    variants.push({ change: `query ${name}`, url: changed.toString() });
  }
  return variants;
}

export function describeBlobStoreContract<S extends BlobStore>(
  name: string,
  open: () => Promise<S>,
  options: BlobStoreContractOptions<S> = {},
): void {
  const checksSignatures = options.checksSignatures ?? true;
  /** Like `withAdapter`, with the store's URLs served for the duration of the test. */
  const served = (body: (store: S) => Promise<void>) =>
    withAdapter(open, async (store) => {
      const stop = options.serveUrls ? await options.serveUrls(store) : async () => undefined;
      try {
        await body(store);
      } finally {
        await stop();
      }
    });

  describe(`BlobStore contract: ${name}`, () => {
    test('put, get and stat return the bytes and content type stored', withAdapter(open, async (store) => {
      const key = `avatars/${uniqueName('user')}/photo.png`;
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.put(key, bytes, 'image/png');
      assert.deepEqual(await store.get(key), bytes);
      assert.deepEqual(await store.stat(key), { key, size: 256, contentType: 'image/png' });
    }));

    test('readHead returns only the first bytes, all of a shorter blob, nothing for an empty one', withAdapter(open, async (store) => {
      const key = `files/${uniqueName('video')}.bin`;
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.put(key, bytes, 'application/octet-stream');
      assert.deepEqual(await store.readHead(key, 10), bytes.subarray(0, 10));
      assert.deepEqual(await store.readHead(key, 1000), bytes);
      const empty = `files/${uniqueName('empty')}.bin`;
      await store.put(empty, new Uint8Array(), 'application/octet-stream');
      assert.deepEqual(await store.readHead(empty, 10), new Uint8Array());
    }));

    test('a missing key reads as undefined', withAdapter(open, async (store) => {
      const key = `files/${uniqueName('none')}`;
      assert.equal(await store.get(key), undefined);
      assert.equal(await store.readHead(key, 10), undefined);
      assert.equal(await store.stat(key), undefined);
    }));

    test('put replaces a blob, bytes and type', withAdapter(open, async (store) => {
      const key = `files/${uniqueName('doc')}.txt`;
      await store.put(key, bytesOf('first draft'), 'text/plain');
      await store.put(key, bytesOf('{"v":2}'), 'application/json');
      assert.deepEqual(await store.get(key), bytesOf('{"v":2}'));
      assert.deepEqual(await store.stat(key), { key, size: 7, contentType: 'application/json' });
    }));

    test('a key and a longer key under it are separate blobs', withAdapter(open, async (store) => {
      const key = `groups/${uniqueName('g')}`;
      await store.put(key, bytesOf('avatar'), 'image/webp');
      await store.put(`${key}/thumb`, bytesOf('thumb'), 'image/webp');
      assert.deepEqual(await store.get(key), bytesOf('avatar'));
      assert.deepEqual(await store.get(`${key}/thumb`), bytesOf('thumb'));
    }));

    test('delete removes the blob and is idempotent', withAdapter(open, async (store) => {
      const key = `files/${uniqueName('tmp')}.bin`;
      await store.put(key, bytesOf('x'), 'application/octet-stream');
      await store.delete(key);
      assert.equal(await store.get(key), undefined);
      assert.equal(await store.stat(key), undefined);
      await store.delete(key);
      await store.delete(`files/${uniqueName('never')}`);
    }));

    test('keys that are not plain relative paths are refused and nothing is stored', withAdapter(open, async (store) => {
      for (const key of ['../escape', 'a/../../etc/passwd', '/absolute', '', 'with space', 'semi;colon', 'back\\slash', 'a//b']) {
        await assert.rejects(store.put(key, bytesOf('x'), 'text/plain'), `key ${JSON.stringify(key)} was accepted`);
      }
      await assert.rejects(store.presignDownload('../escape', { expiresInSeconds: 60 }));
      await assert.rejects(store.presignUpload('/absolute', { contentType: 'text/plain', contentLength: 1, expiresInSeconds: 60 }));
    }));

    test('a presigned upload URL accepts one PUT of the signed size and type', served(async (store) => {
      const key = `uploads/${uniqueName('voice')}.ogg`;
      const body = bytesOf('OggS voice note');
      const before = Date.now();
      const upload = await store.presignUpload(key, { contentType: 'audio/ogg', contentLength: body.length, expiresInSeconds: 300 });
      assert.equal(upload.method, 'PUT');
      const lifetime = upload.expiresAt.getTime() - before;
      assert.ok(lifetime >= 299_000 && lifetime <= 302_000, `expiresAt is ${lifetime} ms away`);
      const response = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body });
      assert.ok(response.ok, `PUT answered ${response.status}: ${await response.text()}`);
      assert.deepEqual(await store.get(key), body);
      assert.equal((await store.stat(key))?.contentType, 'audio/ogg');
    }));

    test('a presigned download URL serves the blob with its content type', served(async (store) => {
      const key = `files/${uniqueName('report')}.pdf`;
      await store.put(key, bytesOf('%PDF-1.7 report'), 'application/pdf');
      const response = await fetch(await store.presignDownload(key, { expiresInSeconds: 300 }));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/pdf');
      assert.equal(await response.text(), '%PDF-1.7 report');
      const missing = await fetch(await store.presignDownload(`files/${uniqueName('gone')}`, { expiresInSeconds: 300 }));
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
    }));

    if (!checksSignatures) return;

    test('an upload of another size or type is refused and stores nothing', served(async (store) => {
      const key = `uploads/${uniqueName('img')}.jpg`;
      const upload = await store.presignUpload(key, { contentType: 'image/jpeg', contentLength: 4, expiresInSeconds: 300 });
      const tooLong = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytesOf('12345') });
      assert.ok(isRefusal(tooLong.status), `a longer body answered ${tooLong.status}`);
      await tooLong.arrayBuffer();
      const otherType = await fetch(upload.url, { method: 'PUT', headers: { 'content-type': 'text/html' }, body: bytesOf('1234') });
      assert.ok(isRefusal(otherType.status), `another content type answered ${otherType.status}`);
      await otherType.arrayBuffer();
      assert.equal(await store.stat(key), undefined);
    }));

    test('a changed download URL, or one for another key, is refused', served(async (store) => {
      const key = `files/${uniqueName('private')}.txt`;
      const other = `files/${uniqueName('other')}.txt`;
      await store.put(key, bytesOf('secret plans'), 'text/plain');
      await store.put(other, bytesOf('someone else'), 'text/plain');
      const url = await store.presignDownload(key, { expiresInSeconds: 300 });
      const foreign = url.replace(key, other);
      for (const variant of [...tamperedVariants(url), { change: 'key in the path', url: foreign }]) {
        const response = await fetch(variant.url);
        const text = await response.text();
        assert.ok(isRefusal(response.status), `${variant.change} changed: answered ${response.status}`);
        assert.ok(!text.includes('secret plans') && !text.includes('someone else'), `${variant.change} changed: leaked the file`);
      }
    }));

    test('a changed upload URL, or one used for another key or method, is refused', served(async (store) => {
      const key = `uploads/${uniqueName('doc')}.txt`;
      const victim = `uploads/${uniqueName('victim')}.txt`;
      await store.put(victim, bytesOf('original'), 'text/plain');
      const body = bytesOf('mallory');
      const upload = await store.presignUpload(key, { contentType: 'text/plain', contentLength: body.length, expiresInSeconds: 300 });
      const variants = [...tamperedVariants(upload.url), { change: 'key in the path', url: upload.url.replace(key, victim) }];
      for (const variant of variants) {
        const response = await fetch(variant.url, { method: 'PUT', headers: upload.headers, body });
        assert.ok(isRefusal(response.status), `${variant.change} changed: answered ${response.status}`);
        await response.arrayBuffer();
      }
      const asDownload = await fetch(upload.url);
      assert.ok(isRefusal(asDownload.status), `GET with an upload URL answered ${asDownload.status}`);
      await asDownload.arrayBuffer();
      const download = await store.presignDownload(victim, { expiresInSeconds: 300 });
      const overwrite = await fetch(download, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body });
      assert.ok(isRefusal(overwrite.status), `PUT with a download URL answered ${overwrite.status}`);
      await overwrite.arrayBuffer();
      assert.equal(await store.stat(key), undefined);
      assert.deepEqual(await store.get(victim), bytesOf('original'));
    }));

    test('presigned URLs stop working once expired', served(async (store) => {
      const key = `files/${uniqueName('short')}.txt`;
      await store.put(key, bytesOf('short-lived'), 'text/plain');
      const download = await store.presignDownload(key, { expiresInSeconds: 1 });
      const upload = await store.presignUpload(`files/${uniqueName('late')}.txt`, { contentType: 'text/plain', contentLength: 4, expiresInSeconds: 1 });
      const fresh = await fetch(download);
      assert.equal(fresh.status, 200);
      await fresh.arrayBuffer();
      // A 1-second link may round up to 2 s; wait past that.
      await sleep(2_200);
      const late = await fetch(download);
      assert.ok(isRefusal(late.status), `an expired download answered ${late.status}`);
      await late.arrayBuffer();
      const lateUpload = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytesOf('late') });
      assert.ok(isRefusal(lateUpload.status), `an expired upload answered ${lateUpload.status}`);
      await lateUpload.arrayBuffer();
    }));
  });
}
