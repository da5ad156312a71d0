// LocalDiskBlobStore against the blob store contract, its URLs served by
// createBlobHttpHandler on a real HTTP server; then the signature rules and
// status codes that only this adapter's handler defines.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createBlobHttpHandler, LocalDiskBlobStore, type HttpHandler } from '@im-mesh/platform';
import { describeBlobStoreContract } from '../src/ports/blob-store/blob-store.contract.js';
import { secretBytes, signBlobUrl } from '../src/ports/blob-store/blob-url-signature.js';

const secret = randomBytes(32);
const roots: string[] = [];
let serving: HttpHandler | undefined;
let listening: Promise<{ server: Server; baseUrl: string }> | undefined;

/** One HTTP server for the whole file; each test mounts its store's handler. */
function httpServer(): Promise<{ server: Server; baseUrl: string }> {
  listening ??= new Promise((resolve) => {
    const server = createServer((req, res) => {
      void (async () => {
        if (serving && (await serving(req, res))) return;
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"fallback":true}');
      })();
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
  return listening;
}

async function openStore(path = ''): Promise<LocalDiskBlobStore> {
  const root = await mkdtemp(join(tmpdir(), 'im-blobs-'));
  roots.push(root);
  const { baseUrl } = await httpServer();
  return new LocalDiskBlobStore({ root, publicBaseUrl: `${baseUrl}${path}`, secret });
}

async function serve(store: LocalDiskBlobStore): Promise<() => Promise<void>> {
  serving = createBlobHttpHandler(store, secret);
  return async () => {
    serving = undefined;
  };
}

after(async () => {
  if (listening) {
    const { server } = await listening;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

describeBlobStoreContract('LocalDiskBlobStore', () => openStore(), { serveUrls: serve });

/** A raw request, so tests control Content-Length and chunking. */
function send(url: string, method: string, headers: Record<string, string>, body?: Uint8Array, chunked = false) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    if (body && chunked) {
      // Two writes without a length: the server only learns the size by reading.
      req.write(body.subarray(0, 1));
      req.end(body.subarray(1));
    } else req.end(body);
  });
}

function withParam(url: string, name: string, value: string): string {
  const changed = new URL(url);
  changed.searchParams.set(name, value);
  return changed.toString();
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

describe('LocalDiskBlobStore signed URLs', () => {
  const text = new TextEncoder().encode('hello');

  test('each signed field of an upload URL is bound: changing key, exp, len, type, op or sig gives 403', async () => {
    const store = await openStore();
    const stop = await serve(store);
    try {
      const upload = await store.presignUpload('chat/a.txt', { contentType: 'text/plain', contentLength: 5, expiresInSeconds: 60 });
      const exp = new URL(upload.url).searchParams.get('exp')!;
      const sig = new URL(upload.url).searchParams.get('sig')!;
      // The last base64url character carries two unused bits: a URL differing only there is still a change.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const lastBits = sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1)!) ^ 1];
      assert.deepEqual(Buffer.from(lastBits, 'base64url'), Buffer.from(sig, 'base64url'));
      const tampered = {
        key: upload.url.replace('chat/a.txt', 'chat/b.txt'),
        exp: withParam(upload.url, 'exp', String(Number(exp) + 3600)),
        'exp with a leading zero': withParam(upload.url, 'exp', `0${exp}`),
        len: withParam(upload.url, 'len', '6'),
        type: withParam(upload.url, 'type', 'text/html'),
        op: withParam(upload.url, 'op', 'get'),
        sig: withParam(upload.url, 'sig', randomBytes(32).toString('base64url')),
        'sig padding bits': withParam(upload.url, 'sig', lastBits),
        'no sig': withParam(upload.url, 'sig', ''),
      };
      for (const [field, url] of Object.entries(tampered)) {
        const body = field === 'len' ? new TextEncoder().encode('hello!') : text;
        const type = field === 'type' ? 'text/html' : 'text/plain';
        const answer = await send(url, 'PUT', { 'content-type': type }, body);
        assert.equal(answer.status, 403, `changed ${field}: ${answer.status} ${answer.text}`);
      }
      assert.equal(await store.stat('chat/a.txt'), undefined);
      assert.equal(await store.stat('chat/b.txt'), undefined);
      assert.equal((await send(upload.url, 'PUT', { 'content-type': 'text/plain' }, text)).status, 200);
      assert.deepEqual(await store.get('chat/a.txt'), text);
    } finally {
      await stop();
    }
  });

  test('a URL signed with another secret (a foreign key) is refused with 403', async () => {
    const store = await openStore();
    const stop = await serve(store);
    try {
      await store.put('chat/a.txt', text, 'text/plain');
      const foreign = signBlobUrl(store.publicBaseUrl, randomBytes(32), { op: 'get', key: 'chat/a.txt', exp: Math.ceil(Date.now() / 1000) + 60 });
      const answer = await send(foreign, 'GET', {});
      assert.equal(answer.status, 403);
      assert.ok(!answer.text.includes('hello'));
    } finally {
      await stop();
    }
  });

  test('expired download and upload URLs answer 410 Gone', async () => {
    const store = await openStore();
    const stop = await serve(store);
    try {
      await store.put('chat/a.txt', text, 'text/plain');
      const past = Math.floor(Date.now() / 1000) - 1;
      const download = signBlobUrl(store.publicBaseUrl, secretBytes(secret), { op: 'get', key: 'chat/a.txt', exp: past });
      const upload = signBlobUrl(store.publicBaseUrl, secretBytes(secret), { op: 'put', key: 'chat/b.txt', exp: past, len: 5, type: 'text/plain' });
      assert.equal((await send(download, 'GET', {})).status, 410);
      assert.equal((await send(upload, 'PUT', { 'content-type': 'text/plain' }, text)).status, 410);
      assert.equal(await store.stat('chat/b.txt'), undefined);
    } finally {
      await stop();
    }
  });

  test('an oversized PUT gets 413, a short one 400, another content type 400, and no file is left behind', async () => {
    const store = await openStore();
    const stop = await serve(store);
    try {
      const upload = await store.presignUpload('voice/n.ogg', { contentType: 'audio/ogg', contentLength: 5, expiresInSeconds: 60 });
      const six = new TextEncoder().encode('hello!');
      const four = new TextEncoder().encode('hell');
      assert.equal((await send(upload.url, 'PUT', { 'content-type': 'audio/ogg' }, six)).status, 413, 'declared too long');
      assert.equal((await send(upload.url, 'PUT', { 'content-type': 'audio/ogg' }, six, true)).status, 413, 'streamed too long');
      assert.equal((await send(upload.url, 'PUT', { 'content-type': 'audio/ogg' }, four)).status, 400, 'declared too short');
      assert.equal((await send(upload.url, 'PUT', { 'content-type': 'audio/ogg' }, four, true)).status, 400, 'streamed too short');
      assert.equal((await send(upload.url, 'PUT', { 'content-type': 'audio/mpeg' }, text)).status, 400, 'other type');
      assert.equal((await send(upload.url, 'PUT', {}, text, true)).status, 400, 'no type');
      assert.equal(await store.stat('voice/n.ogg'), undefined);
      assert.deepEqual(await filesUnder(store.root), [], 'a refused upload left a file');
      assert.equal((await send(upload.url, 'PUT', { 'content-type': 'audio/ogg' }, text, true)).status, 200, 'streamed exact');
      assert.deepEqual(await store.get('voice/n.ogg'), text);
    } finally {
      await stop();
    }
  });

  test('downloads answer HEAD without a body, other methods 405, other paths are left to the next handler', async () => {
    const store = await openStore();
    const stop = await serve(store);
    try {
      await store.put('chat/a.txt', text, 'text/plain');
      const url = await store.presignDownload('chat/a.txt', { expiresInSeconds: 60 });
      const head = await fetch(url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '5');
      assert.equal((await send(url, 'DELETE', {})).status, 405);
      assert.equal(await store.stat('chat/a.txt').then((i) => i?.size), 5);
      const other = await send(`${store.publicBaseUrl}/healthz`, 'GET', {});
      assert.deepEqual(other, { status: 404, text: '{"fallback":true}' });
    } finally {
      await stop();
    }
  });

  test('a public base URL with a path serves the blobs under that path', async () => {
    const store = await openStore('/media');
    const stop = await serve(store);
    try {
      await store.put('chat/a.txt', text, 'text/plain');
      const url = await store.presignDownload('chat/a.txt', { expiresInSeconds: 60 });
      assert.match(url, /\/media\/blobs\/chat\/a\.txt\?/);
      assert.equal((await send(url, 'GET', {})).text, 'hello');
    } finally {
      await stop();
    }
  });

  test('20 concurrent writes of one key leave one whole blob and no orphaned files', async () => {
    const store = await openStore();
    const versions = Array.from({ length: 20 }, (_, i) => new TextEncoder().encode(`version ${i}`.repeat(100)));
    await Promise.all(versions.map((bytes) => store.put('groups/g1/avatar', bytes, 'image/webp')));
    const stored = await store.get('groups/g1/avatar');
    assert.ok(versions.some((v) => Buffer.from(v).equals(Buffer.from(stored ?? []))), 'the stored blob is a mix of writes');
    assert.equal((await filesUnder(store.root)).length, 2, 'one metadata file and one data file');
    await store.delete('groups/g1/avatar');
    assert.deepEqual(await filesUnder(store.root), []);
  });

  test('a secret shorter than 16 bytes is refused at construction', () => {
    assert.throws(() => new LocalDiskBlobStore({ root: tmpdir(), publicBaseUrl: 'http://x', secret: 'short' }), /at least 16 bytes/);
  });
});
