// The all-in-one serves files and friends on its one public port: FileService
// and UserService over gRPC through the edge, the local blob store's signed
// URLs on the same port (what `npm start` gives a fresh install), and a friend
// request reaching the other user's connected client through connect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChannel, createClient, Metadata, type Channel } from 'nice-grpc';
import sharp from 'sharp';
import { fileV1, userV1 } from '@im-mesh/contracts';
import { newUser, openClient, startTestMesh, waitFor, type TestMesh, type TestUser } from './support/mesh-harness.js';

describe('files and friends through the all-in-one edge', () => {
  let mesh: TestMesh;
  let varDir: string;
  let channel: Channel;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    varDir = await mkdtemp(join(tmpdir(), 'im-all-in-one-files-'));
    mesh = await startTestMesh('files_friends', { IM_VAR_DIR: varDir });
    channel = createChannel(mesh.url);
    alice = await newUser(mesh.url, 'alice');
    bob = await newUser(mesh.url, 'bob');
  });
  after(async () => {
    channel.close();
    await mesh.stop();
    await rm(varDir, { recursive: true, force: true });
  });

  async function as(user: TestUser) {
    const metadata = Metadata({ authorization: `Bearer ${await user.auth.getAccessToken()}` });
    return {
      files: createClient(fileV1.FileServiceDefinition, channel, { '*': { metadata } }),
      users: createClient(userV1.UserServiceDefinition, channel, { '*': { metadata } }),
    };
  }

  test('an image is uploaded to and downloaded from the edge port with signed URLs, the blob kept under IM_VAR_DIR', async () => {
    const { files } = await as(alice);
    const png = await sharp({ create: { width: 50, height: 40, channels: 4, background: '#3366ff' } }).png().toBuffer();
    const upload = await files.createUpload({ kind: fileV1.FileKind.FILE_KIND_IMAGE, sizeBytes: png.length, contentType: 'image/png', name: 'cat.png' });
    assert.ok(upload.uploadUrl.startsWith(`${mesh.url}/blobs/`), upload.uploadUrl);
    const put = await fetch(upload.uploadUrl, { method: 'PUT', headers: upload.headers, body: png });
    assert.equal(put.status, 200);
    const { file } = await files.completeUpload({ uploadId: upload.uploadId });
    assert.deepEqual([file?.width, file?.height, file?.contentType], [50, 40, 'image/png']);

    const { url } = await files.getDownloadUrl({ fileId: upload.uploadId, thumbnail: false });
    const download = await fetch(url);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), png);
    // A tampered link is refused on the same port.
    assert.equal((await fetch(url.replace(/sig=[^&]+/, 'sig=AAAA'))).status, 403);

    // Bob cannot get a link to Alice's file.
    const bobs = await as(bob);
    await assert.rejects(bobs.files.getDownloadUrl({ fileId: upload.uploadId, thumbnail: false }), /File not found/);
  });

  test("a friend request reaches the other user's connected client and is accepted", async () => {
    const inbox = await openClient(mesh.url, alice, 'grpc');
    try {
      const bobs = await as(bob);
      const alices = await as(alice);
      const found = await bobs.users.searchUsers({ query: { $case: 'username', value: alice.username } });
      assert.deepEqual(found.profiles.map((p) => p.userId), [alice.userId]);

      const { request } = await bobs.users.sendFriendRequest({ toUserId: alice.userId, message: 'hello from bob' });
      await waitFor(
        () => inbox.received.some((m) => m.senderId === bob.userId && m.text === '<socialEvent>'),
        () => `alice's client got ${JSON.stringify(inbox.received)}`,
      );
      await alices.users.acceptFriendRequest({ requestId: request!.requestId });
      assert.deepEqual((await bobs.users.listFriends({})).friends.map((f) => f.userId), [alice.userId]);
    } finally {
      await inbox.client.close();
    }
  });
});
