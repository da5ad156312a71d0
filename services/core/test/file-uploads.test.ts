// FileService end to end over gRPC, on the local blob store served over real
// HTTP: upload with a signed URL, completion that sniffs the bytes and makes a
// thumbnail, downloads only for the owner and those who can see a message with
// the file; every refusal leaves the files table as it was.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ClientError, Status } from 'nice-grpc';
import sharp from 'sharp';
import { fileV1, messageV1 } from '@im-mesh/contracts';
import { CoreHarness, eventually, toUser } from './support/core-harness.js';
import { ClientsFor, startTestBlobs, type FileClient, type TestBlobs } from './support/file-and-user-clients.js';

const { FileKind } = fileV1;

async function pngOf(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
}

const PDF = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');

async function put(upload: fileV1.CreateUploadResponse, body: Uint8Array, contentType?: string): Promise<Response> {
  return fetch(upload.uploadUrl, {
    method: upload.method,
    headers: { ...upload.headers, ...(contentType && { 'content-type': contentType }) },
    body,
  });
}

function failsWith(code: Status, reason: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, `expected a gRPC error, got ${String(error)}`);
    assert.equal(error.code, code, `${Status[error.code]}: ${error.details}`);
    assert.match(error.details, reason);
    return true;
  };
}

describe('FileService on the local blob store', () => {
  let h: CoreHarness;
  let blobs: TestBlobs;
  let clients: ClientsFor;
  let alice: FileClient;
  let bob: FileClient;
  let carol: FileClient;

  before(async () => {
    blobs = await startTestBlobs();
    h = await CoreHarness.start({
      blobs: blobs.storage,
      config: { CORE_FILE_MAX_PENDING_UPLOADS: '8', CORE_FILE_IMAGE_MAX_BYTES: '1000000', CORE_FILE_SWEEP_INTERVAL_MS: '200' },
    });
    clients = new ClientsFor(h);
    alice = clients.files(h.alice);
    bob = clients.files(h.bob);
    carol = clients.files(h.carol);
  });
  after(async () => {
    clients.close();
    await h.close();
    await blobs.close();
  });

  async function uploadImage(client: FileClient, png: Buffer): Promise<fileV1.FileInfo> {
    const upload = await client.createUpload({ kind: FileKind.FILE_KIND_IMAGE, sizeBytes: png.length, contentType: 'image/png', name: 'holiday.png' });
    assert.equal((await put(upload, png)).status, 200);
    return (await client.completeUpload({ uploadId: upload.uploadId })).file!;
  }

  test('an image goes up through its signed URL, comes back byte for byte, with its size and a decodable thumbnail', async () => {
    const png = await pngOf(640, 480);
    const upload = await alice.createUpload({ kind: FileKind.FILE_KIND_IMAGE, sizeBytes: png.length, contentType: 'image/png', name: 'holiday.png' });
    assert.equal(upload.method, 'PUT');
    assert.equal(upload.headers['content-type'], 'image/png');
    assert.ok(upload.expiresAt!.getTime() > Date.now());
    assert.equal((await put(upload, png)).status, 200);

    const { file } = await alice.completeUpload({ uploadId: upload.uploadId });
    assert.ok(file);
    assert.equal(file.fileId, upload.uploadId);
    assert.deepEqual(
      { kind: file.kind, owner: file.ownerId, name: file.name, size: file.sizeBytes, type: file.contentType, width: file.width, height: file.height, thumb: file.hasThumbnail },
      { kind: FileKind.FILE_KIND_IMAGE, owner: h.alice, name: 'holiday.png', size: png.length, type: 'image/png', width: 640, height: 480, thumb: true },
    );
    // Completing again answers the same file.
    assert.deepEqual((await alice.completeUpload({ uploadId: upload.uploadId })).file, file);

    const original = await alice.getDownloadUrl({ fileId: file.fileId, thumbnail: false });
    const downloaded = await fetch(original.url);
    assert.equal(downloaded.status, 200);
    assert.equal(downloaded.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await downloaded.arrayBuffer()), png);

    const thumbnail = await alice.getDownloadUrl({ fileId: file.fileId, thumbnail: true });
    const thumbBytes = Buffer.from(await (await fetch(thumbnail.url)).arrayBuffer());
    const decoded = await sharp(thumbBytes).metadata();
    assert.deepEqual({ format: decoded.format, width: decoded.width, height: decoded.height }, { format: 'webp', width: 320, height: 240 });
  });

  test('an oversized file or a type the kind does not accept is refused at CreateUpload, and no row is written', async () => {
    const before = await h.count('files');
    await assert.rejects(
      alice.createUpload({ kind: FileKind.FILE_KIND_IMAGE, sizeBytes: 1_000_001, contentType: 'image/png', name: 'big.png' }),
      failsWith(Status.INVALID_ARGUMENT, /at most 1000000 bytes/),
    );
    await assert.rejects(
      alice.createUpload({ kind: FileKind.FILE_KIND_IMAGE, sizeBytes: 10, contentType: 'application/pdf', name: 'x.pdf' }),
      failsWith(Status.INVALID_ARGUMENT, /image\/jpeg, image\/png/),
    );
    await assert.rejects(
      alice.createUpload({ kind: FileKind.FILE_KIND_UNSPECIFIED, sizeBytes: 10, contentType: 'image/png', name: 'x.png' }),
      failsWith(Status.INVALID_ARGUMENT, /kind must be/),
    );
    await assert.rejects(
      alice.createUpload({ kind: FileKind.FILE_KIND_FILE, sizeBytes: 10, contentType: 'text/plain', name: '../etc/passwd' }),
      failsWith(Status.INVALID_ARGUMENT, /name must be/),
    );
    await assert.rejects(
      alice.createUpload({ kind: FileKind.FILE_KIND_FILE, sizeBytes: 0, contentType: 'text/plain', name: 'empty.txt' }),
      failsWith(Status.INVALID_ARGUMENT, /at least 1 byte/),
    );
    assert.equal(await h.count('files'), before);
  });

  test('the signed URL takes exactly the declared size and type: longer, shorter or another type is refused', async () => {
    const png = await pngOf(8, 8);
    const upload = await alice.createUpload({ kind: FileKind.FILE_KIND_IMAGE, sizeBytes: png.length, contentType: 'image/png', name: 'a.png' });
    assert.equal((await put(upload, Buffer.concat([png, Buffer.from('extra')]))).status, 413);
    assert.equal((await put(upload, png.subarray(0, png.length - 1))).status, 400);
    assert.equal((await put(upload, png, 'image/jpeg')).status, 400);
    // Nothing arrived, so completing says so, and the upload is not spent.
    await assert.rejects(alice.completeUpload({ uploadId: upload.uploadId }), failsWith(Status.FAILED_PRECONDITION, /Nothing has been uploaded/));
    assert.equal((await put(upload, png)).status, 200);
    assert.equal((await alice.completeUpload({ uploadId: upload.uploadId })).file?.width, 8);
  });

  test('bytes that are not what was declared are refused at CompleteUpload; the upload is spent and its bytes deleted', async () => {
    const upload = await alice.createUpload({ kind: FileKind.FILE_KIND_IMAGE, sizeBytes: PDF.length, contentType: 'image/png', name: 'fake.png' });
    assert.equal((await put(upload, PDF)).status, 200);
    await assert.rejects(alice.completeUpload({ uploadId: upload.uploadId }), failsWith(Status.FAILED_PRECONDITION, /looks like application\/pdf/));
    const [row] = await h.query<{ state: number }>('SELECT state FROM core.files WHERE id = $1', [upload.uploadId]);
    assert.equal(row?.state, 3);
    assert.equal(await blobs.store.stat(`files/${h.alice}/${upload.uploadId}`), undefined);
    await assert.rejects(alice.completeUpload({ uploadId: upload.uploadId }), failsWith(Status.FAILED_PRECONDITION, /refused earlier/));
    await assert.rejects(alice.getDownloadUrl({ fileId: upload.uploadId, thumbnail: false }), failsWith(Status.NOT_FOUND, /File not found/));

    // A JPEG declared as PNG is a mismatch too, although both are images.
    const jpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).jpeg().toBuffer();
    const mislabeled = await alice.createUpload({ kind: FileKind.FILE_KIND_IMAGE, sizeBytes: jpeg.length, contentType: 'image/png', name: 'x.png' });
    assert.equal((await put(mislabeled, jpeg)).status, 200);
    await assert.rejects(alice.completeUpload({ uploadId: mislabeled.uploadId }), failsWith(Status.FAILED_PRECONDITION, /image\/jpeg, not the image\/png declared/));
  });

  test('a plain file of a format nobody can sniff is kept as application/octet-stream, without a thumbnail', async () => {
    const notes = Buffer.from('shopping list: milk, eggs\n');
    const upload = await alice.createUpload({ kind: FileKind.FILE_KIND_FILE, sizeBytes: notes.length, contentType: 'text/plain', name: 'notes.txt' });
    assert.equal((await put(upload, notes, 'text/plain')).status, 200);
    const { file } = await alice.completeUpload({ uploadId: upload.uploadId });
    assert.deepEqual([file?.contentType, file?.hasThumbnail, file?.width], ['application/octet-stream', false, 0]);
    await assert.rejects(alice.getDownloadUrl({ fileId: upload.uploadId, thumbnail: true }), failsWith(Status.NOT_FOUND, /no thumbnail/));
  });

  test('tampered and expired URLs are refused by the local blob store', async () => {
    const mine = await uploadImage(alice, await pngOf(16, 16));
    const theirs = await uploadImage(bob, await pngOf(12, 12));
    const { url } = await alice.getDownloadUrl({ fileId: mine.fileId, thumbnail: false });
    // Pointing the signed URL at another user's file: the signature no longer matches.
    const foreign = url.replace(`files/${h.alice}/${mine.fileId}`, `files/${h.bob}/${theirs.fileId}`);
    assert.notEqual(foreign, url);
    assert.equal((await fetch(foreign)).status, 403);
    // Extending the expiry by hand.
    const extended = new URL(url);
    extended.searchParams.set('exp', String(Number(extended.searchParams.get('exp')) + 3600));
    assert.equal((await fetch(extended)).status, 403);
    // Using a download URL to upload.
    assert.equal((await fetch(url, { method: 'PUT', body: 'x', headers: { 'content-type': 'image/png' } })).status, 403);
    assert.equal((await fetch(url)).status, 200);
    blobs.advance(301);
    assert.equal((await fetch(url)).status, 410);
  });

  test('downloads go to the owner and to members who can see a message with the file (until it is recalled), never to others', async () => {
    const file = await uploadImage(alice, await pngOf(20, 10));
    await assert.rejects(bob.getDownloadUrl({ fileId: file.fileId, thumbnail: false }), failsWith(Status.NOT_FOUND, /File not found/));
    await assert.rejects(bob.completeUpload({ uploadId: file.fileId }), failsWith(Status.NOT_FOUND, /not yours/));

    // Alice sends the file to Bob as an image message; the send transaction records the reference.
    const messages = h.messagesAs(h.alice, 'alice-phone');
    const image = (fileId: string): messageV1.MessageContent => ({
      body: { $case: 'image', value: { fileId, sizeBytes: file.sizeBytes, mimeType: 'image/png', width: 20, height: 10, thumbnail: undefined } },
    });
    const sent = await messages.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: image(file.fileId) });
    assert.equal(await h.count('message_files', 'message_id = $1 AND file_id = $2', [sent.messageId, file.fileId]), 1);

    // Bob cannot pass off a file he cannot see (Carol's) in a message of his own; nothing is stored.
    const carols = await uploadImage(carol, await pngOf(6, 6));
    const before = [await h.count('messages'), await h.count('message_files')];
    await assert.rejects(
      h.messagesAs(h.bob, 'bob-phone').sendMessage({ target: toUser(h.alice), clientMsgId: randomUUID(), content: image(carols.fileId) }),
      failsWith(Status.FAILED_PRECONDITION, /not a completed upload you can use/),
    );
    assert.deepEqual([await h.count('messages'), await h.count('message_files')], before);

    const forBob = await bob.getDownloadUrl({ fileId: file.fileId, thumbnail: true });
    assert.equal((await fetch(forBob.url)).status, 200);
    await assert.rejects(carol.getDownloadUrl({ fileId: file.fileId, thumbnail: false }), failsWith(Status.NOT_FOUND, /File not found/));
    await assert.rejects(bob.getDownloadUrl({ fileId: 'not-a-uuid', thumbnail: false }), failsWith(Status.INVALID_ARGUMENT, /file_id/));

    // Once Alice recalls the message, Bob no longer gets links to the file; Alice, the owner, still does.
    await messages.recallMessage({ messageId: sent.messageId });
    await assert.rejects(bob.getDownloadUrl({ fileId: file.fileId, thumbnail: false }), failsWith(Status.NOT_FOUND, /File not found/));
    assert.ok((await alice.getDownloadUrl({ fileId: file.fileId, thumbnail: false })).url);
  });

  test('uploads never completed are deleted, bytes and row, an hour after their URL expired; completed files stay', async () => {
    const kept = await uploadImage(alice, await pngOf(5, 5));
    const notes = Buffer.from('draft');
    const upload = await alice.createUpload({ kind: FileKind.FILE_KIND_FILE, sizeBytes: notes.length, contentType: 'text/plain', name: 'draft.txt' });
    assert.equal((await put(upload, notes, 'text/plain')).status, 200);
    const key = `files/${h.alice}/${upload.uploadId}`;
    assert.ok(await blobs.store.stat(key));
    // Just expired: still completable for a while, so it stays.
    await h.query(`UPDATE core.files SET upload_expires_at = now() - interval '10 minutes' WHERE id = $1`, [upload.uploadId]);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await h.count('files', 'id = $1', [upload.uploadId]), 1);
    await h.query(`UPDATE core.files SET upload_expires_at = now() - interval '2 hours' WHERE id = $1`, [upload.uploadId]);
    // The row goes first, then the bytes.
    await eventually(
      'the abandoned upload swept, row and bytes',
      async () => (await h.count('files', 'id = $1', [upload.uploadId])) === 0 && (await blobs.store.stat(key)) === undefined,
    );
    assert.equal(await h.count('files', 'id = $1', [kept.fileId]), 1);
  });

  test('a user cannot hold more pending uploads than allowed', async () => {
    const dave = randomUUID();
    h.auth.addUser(dave);
    const client = clients.files(dave);
    for (let i = 0; i < 8; i += 1) {
      await client.createUpload({ kind: FileKind.FILE_KIND_FILE, sizeBytes: 10, contentType: 'text/plain', name: `n${i}.txt` });
    }
    const before = await h.count('files');
    await assert.rejects(
      client.createUpload({ kind: FileKind.FILE_KIND_FILE, sizeBytes: 10, contentType: 'text/plain', name: 'one-more.txt' }),
      failsWith(Status.RESOURCE_EXHAUSTED, /8 uploads in progress/),
    );
    assert.equal(await h.count('files'), before);
  });
});
