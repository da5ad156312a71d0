// Generated group pictures through a real core: rendered after membership goes
// quiet (a burst of joins renders once), served as a PNG from the blob store,
// kept stale across a restart until rendered, and never over a custom picture.
// Quiet periods are made to pass by backdating avatar_touched_at, so nothing
// here depends on how fast the machine is.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createChannel, createClient, Metadata } from 'nice-grpc';
import { fileV1, userV1 } from '@im-mesh/contracts';
import { CoreHarness, eventually } from './support/core-harness.js';
import { GroupFixture, groupEvents } from './support/group-fixtures.js';
import { SERVER_SENDER_ID } from '../src/groups/group-events.js';
import { avatarLayout } from '../src/group-avatars/avatar-layout.js';

/** The uploaded picture was pure red; JPEG leaves it a shade off. */
function isRed([r, g, b]: number[]): boolean {
  return r! > 240 && g! < 16 && b! < 16;
}

describe('generated group avatars', () => {
  let h: CoreHarness;
  let f: GroupFixture;
  let blobDir: string;
  before(async () => {
    blobDir = await mkdtemp(join(tmpdir(), 'group-avatars-'));
    h = await CoreHarness.start({
      config: {
        BLOBS_DIR: blobDir,
        // Nothing renders until a test backdates the last change past the quiet period.
        CORE_GROUP_AVATAR_QUIET_MS: '600000',
        CORE_GROUP_AVATAR_MAX_WAIT_MS: '3600000',
        CORE_GROUP_AVATAR_POLL_MS: '50',
      },
    });
    f = new GroupFixture(h);
  });
  after(async () => {
    f.close();
    await h.close();
    await rm(blobDir, { recursive: true, force: true });
  });

  /** Makes the group's last membership change look older than the quiet period. */
  async function letQuietPass(groupId: string): Promise<void> {
    await h.query(`UPDATE core.groups SET avatar_touched_at = avatar_touched_at - interval '1 hour' WHERE id = $1 AND avatar_touched_at IS NOT NULL`, [groupId]);
  }

  async function avatarEvents(groupId: string): Promise<Array<{ custom: boolean; senderId: string }>> {
    const messages = await f.pullAll(h.alice, groupId);
    return messages.flatMap((m) =>
      m.content?.body?.$case === 'groupEvent' && m.content.body.value.change?.$case === 'avatarChanged'
        ? [{ custom: m.content.body.value.change.value.custom, senderId: m.senderId }]
        : [],
    );
  }

  async function fetchPng(url: string): Promise<{ width: number; height: number; format: string | undefined; corner: number[]; bytes: Buffer }> {
    const response = await fetch(url);
    assert.equal(response.status, 200, url);
    const bytes = Buffer.from(await response.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    const { data } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (20 * meta.width + 20) * 3;
    return { width: meta.width, height: meta.height, format: meta.format, corner: [...data.subarray(at, at + 3)], bytes };
  }

  test('a new group gets a 256x256 PNG of its members once quiet, announced by one server-sent event', async () => {
    const { group } = await f.groupsAs(h.alice).createGroup({ name: 'Climbers', memberUserIds: [h.bob, h.carol] });
    assert.equal(group!.avatarUrl, '', 'nothing is rendered before the quiet period passes');
    assert.equal(await h.count('groups', 'id = $1 AND avatar_dirty_since IS NOT NULL', [group!.groupId]), 1);
    await letQuietPass(group!.groupId);
    await eventually('avatar rendered', async () => (await f.groupsAs(h.alice).getGroup({ groupId: group!.groupId })).group!.avatarUrl !== '');
    const view = (await f.groupsAs(h.bob).getGroup({ groupId: group!.groupId })).group!;
    const png = await fetchPng(view.avatarUrl);
    assert.deepEqual([png.format, png.width, png.height], ['png', 256, 256]);
    assert.equal(view.avatarCustom, false);
    assert.deepEqual(await avatarEvents(group!.groupId), [{ custom: false, senderId: SERVER_SENDER_ID }]);
    assert.equal(await h.count('groups', 'id = $1 AND avatar_dirty_since IS NULL', [group!.groupId]), 1);
  });

  test('a burst of five joins renders once, and the new picture differs from the old one', async () => {
    const { group } = await f.groupsAs(h.alice).createGroup({ name: 'Burst', memberUserIds: [h.bob] });
    const groupId = group!.groupId;
    await letQuietPass(groupId);
    await eventually('first render', async () => (await avatarEvents(groupId)).length === 1);
    const first = await fetchPng((await f.groupsAs(h.alice).getGroup({ groupId })).group!.avatarUrl);

    for (const userId of f.users(5)) await f.groupsAs(h.alice).inviteMembers({ groupId, userIds: [userId] });
    // Still inside the quiet period: no render yet, however long the joins took.
    assert.equal((await avatarEvents(groupId)).length, 1);
    await letQuietPass(groupId);
    await eventually('second render', async () => (await avatarEvents(groupId)).length === 2);
    await eventually('stale mark cleared', async () => (await h.count('groups', 'id = $1 AND avatar_dirty_since IS NULL', [groupId])) === 1);
    assert.equal((await avatarEvents(groupId)).length, 2, 'five joins, one render');
    const second = await fetchPng((await f.groupsAs(h.alice).getGroup({ groupId })).group!.avatarUrl);
    assert.equal(second.width, 256);
    assert.ok(!first.bytes.equals(second.bytes));
  });

  test('a change below the first nine leaves the picture alone (no render, no event)', async () => {
    const nine = f.users(8);
    const { group } = await f.groupsAs(h.alice).createGroup({ name: 'Nine', memberUserIds: nine });
    const groupId = group!.groupId;
    await letQuietPass(groupId);
    await eventually('first render', async () => (await avatarEvents(groupId)).length === 1);
    await f.groupsAs(h.alice).inviteMembers({ groupId, userIds: f.users(1) });
    await letQuietPass(groupId);
    await eventually('stale mark cleared', async () => (await h.count('groups', 'id = $1 AND avatar_dirty_since IS NULL', [groupId])) === 1);
    assert.equal((await avatarEvents(groupId)).length, 1);
  });

  test('a stale picture survives a core restart and is rendered by the next core', async () => {
    const { group } = await f.groupsAs(h.alice).createGroup({ name: 'Restart', memberUserIds: [h.carol] });
    await h.core.stop();
    await letQuietPass(group!.groupId);
    await h.startCore();
    await eventually('rendered after restart', async () => (await avatarEvents(group!.groupId)).length === 1);
    assert.notEqual((await f.groupsAs(h.alice).getGroup({ groupId: group!.groupId })).group!.avatarUrl, '');
  });

  test("a member's profile picture appears in their tile; members without one get initials", async () => {
    // Bob sets a pure green profile picture through FileService and UserService.
    const channel = createChannel(h.core.grpcAddress);
    const metadata = Metadata({ authorization: `Bearer ${h.auth.token(h.bob, 'bob-phone')}` });
    const files = createClient(fileV1.FileServiceDefinition, channel, { '*': { metadata } });
    const users = createClient(userV1.UserServiceDefinition, channel, { '*': { metadata } });
    const green = await sharp({ create: { width: 300, height: 300, channels: 3, background: { r: 0, g: 255, b: 0 } } }).png().toBuffer();
    const upload = await files.createUpload({ kind: fileV1.FileKind.FILE_KIND_AVATAR, sizeBytes: green.length, contentType: 'image/png', name: 'me.png' });
    const put = await fetch(upload.uploadUrl, { method: 'PUT', headers: upload.headers, body: green });
    assert.equal(put.status < 300, true, `PUT answered ${put.status}`);
    const { file } = await files.completeUpload({ uploadId: upload.uploadId });
    await users.updateProfile({ avatarFileId: file!.fileId });
    channel.close();

    // Bob alone in the group after Alice: a 2-member picture, Alice's tile first.
    const { group } = await f.groupsAs(h.alice).createGroup({ name: 'Faces', memberUserIds: [h.bob] });
    await letQuietPass(group!.groupId);
    await eventually('rendered', async () => (await avatarEvents(group!.groupId)).length === 1);
    const url = (await f.groupsAs(h.alice).getGroup({ groupId: group!.groupId })).group!.avatarUrl;
    const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const [aliceTile, bobTile] = avatarLayout(2, 256, 4);
    const bobPixel = at(bobTile!.left + 10, bobTile!.top + 10);
    const alicePixel = at(aliceTile!.left + 10, aliceTile!.top + 10);
    assert.ok(bobPixel[0]! < 16 && bobPixel[1]! > 240 && bobPixel[2]! < 16, `bob's tile shows his picture: ${bobPixel.join(',')}`);
    assert.ok(!(alicePixel[1]! > 240 && alicePixel[0]! < 16), `alice's tile is her initial: ${alicePixel.join(',')}`);
  });

  test('a custom picture is kept over regenerated ones; clearing it brings the generated one back', async () => {
    const { group } = await f.groupsAs(h.alice).createGroup({ name: 'Custom', memberUserIds: [h.bob] });
    const groupId = group!.groupId;
    const red = await sharp({ create: { width: 600, height: 400, channels: 3, background: { r: 255, g: 0, b: 0 } } }).jpeg().toBuffer();
    const set = (await f.groupsAs(h.alice).setGroupAvatar({ groupId, image: red })).group!;
    assert.equal(set.avatarCustom, true);
    const custom = await fetchPng(set.avatarUrl);
    assert.deepEqual([custom.format, custom.width, custom.height], ['png', 256, 256]);
    assert.ok(isRed(custom.corner), `corner ${custom.corner.join(',')}`);

    await f.groupsAs(h.alice).inviteMembers({ groupId, userIds: [h.carol] });
    await letQuietPass(groupId);
    await eventually('generated one rendered behind the custom one', async () => (await h.count('groups', 'id = $1 AND avatar_dirty_since IS NULL', [groupId])) === 1);
    const kept = (await f.groupsAs(h.bob).getGroup({ groupId })).group!;
    assert.equal(kept.avatarCustom, true);
    assert.ok(isRed((await fetchPng(kept.avatarUrl)).corner));
    assert.deepEqual(await avatarEvents(groupId), [{ custom: true, senderId: h.alice }]);
    await assert.rejects(f.groupsAs(h.bob).setGroupAvatar({ groupId, image: red }), /cannot change this group's name, notice, announcement or picture/);

    const cleared = (await f.groupsAs(h.alice).setGroupAvatar({ groupId, image: Buffer.alloc(0) })).group!;
    assert.equal(cleared.avatarCustom, false);
    assert.ok(!isRed((await fetchPng(cleared.avatarUrl)).corner));
    assert.deepEqual(groupEvents(await f.pullAll(h.alice, groupId)).filter((e) => e.change?.$case === 'avatarChanged').length, 2);
  });
});
