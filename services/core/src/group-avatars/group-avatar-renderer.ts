// Keeps generated group pictures current. A membership change marks the group's
// picture stale in the change's own transaction (avatar_dirty_since); this
// renderer finds stale groups once they have been quiet for a moment (debounce:
// a burst of joins renders once), composes the first nine members, stores the
// PNG in the blob store, and records it with a GroupAvatarChanged event. The
// mark is cleared only with that record, so a crash at any point leaves the
// group stale and the next pass (here or in any core instance) renders it.
// Two instances may render the same group at once: both store the same key and
// one record wins, which is harmless.
import { createHash } from 'node:crypto';
import type { BlobStore, Logger } from '@im-mesh/platform';
import type { DataSource } from 'typeorm';
import { appendGroupEvent, SERVER_DEVICE_ID, SERVER_SENDER_ID } from '../groups/group-events.js';
import { firstMembers, staleAvatars, type StaleAvatarRow } from '../storage/group-avatar-store.js';
import type { GroupStore } from '../storage/group-store.js';
import { avatarKeyPrefix } from './avatar-keys.js';
import { MAX_AVATAR_TILES } from './avatar-layout.js';
import { composeGroupAvatar } from './compose-group-avatar.js';
import type { MemberProfiles } from './member-profiles.js';

export interface GroupAvatarRendererOptions {
  database: DataSource;
  groups: GroupStore;
  blobs: BlobStore;
  profiles: MemberProfiles;
  logger: Logger;
  /** Quiet time after the last membership change before rendering, in ms. */
  quietMs: number;
  /** Longest a stale picture waits in a group that never goes quiet, in ms. */
  maxWaitMs: number;
  /** How often to look for stale pictures when nothing woke the renderer, in ms. */
  pollMs: number;
  /** Called after a render committed its event, to wake the outbox relay. */
  onStored: () => void;
}

const GROUPS_PER_PASS = 50;

export class GroupAvatarRenderer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(private readonly options: GroupAvatarRendererOptions) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Asks for a pass soon (after the quiet time, since a change just happened). */
  wake(): void {
    if (this.stopped) return;
    this.again = true;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over the due groups; resolves with how many pictures were recorded. Exposed for tests. */
  async renderDue(): Promise<number> {
    const { database, quietMs, maxWaitMs } = this.options;
    const due = await staleAvatars(database, quietMs, maxWaitMs, GROUPS_PER_PASS);
    let recorded = 0;
    for (const group of due) {
      try {
        if (await this.render(group)) recorded += 1;
      } catch (error) {
        // The group stays stale and the next pass retries it.
        this.options.logger.warn({ err: error, groupId: group.id }, 'group avatar render failed; will retry');
      }
    }
    return recorded;
  }

  private async drain(): Promise<void> {
    while (this.again && !this.stopped) {
      this.again = false;
      try {
        await this.renderDue();
      } catch (error) {
        this.options.logger.error({ err: error }, 'group avatar pass failed');
        return;
      }
    }
  }

  private async render(group: StaleAvatarRow): Promise<boolean> {
    const members = await firstMembers(this.options.database, group.id, MAX_AVATAR_TILES);
    if (members.length === 0) return false;
    const described = await this.options.profiles.describe(members);
    // Who is shown and how (name, picture): the same fingerprint renders the same picture.
    const fingerprint = described.map((member) => `${member.userId}:${member.version}`).join(',');
    let key: string | null = null;
    if (fingerprint !== group.avatar_members || group.avatar_key === null) {
      const png = await composeGroupAvatar(described);
      // Named after the members shown: the same nine render to the same key.
      const digest = createHash('sha256').update(fingerprint).digest('hex').slice(0, 24);
      key = `${avatarKeyPrefix(group.id)}/generated-${digest}.png`;
      await this.options.blobs.put(key, png, 'image/png');
    }
    const changed = key !== null && key !== group.avatar_key;
    const result = await this.options.groups.change(group.id, async (tx) => {
      if (tx.group.dissolved_at) return false;
      if (!(await tx.settleAvatar(group.touched_micros, key, fingerprint))) return false;
      // Members see a new picture only when no custom one hides it.
      if (changed && tx.group.custom_avatar_key === null) {
        await appendGroupEvent(tx, { userId: SERVER_SENDER_ID, deviceId: SERVER_DEVICE_ID }, { $case: 'avatarChanged', value: { custom: false } });
      }
      return true;
    });
    const recorded = result?.value ?? false;
    if (recorded && changed) this.options.onStored();
    return recorded;
  }
}
