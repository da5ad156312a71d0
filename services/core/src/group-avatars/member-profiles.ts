// What a group picture shows of each member: their profile picture when they
// set one (UserService.UpdateProfile), else an initial tile of their name: the
// profile nickname, else the display name or username from auth's directory
// (core never reads auth's tables).
import type { BlobStore, Logger } from '@im-mesh/platform';
import type { Client } from 'nice-grpc';
import type { internalV1 } from '@im-mesh/contracts';
import type { DataSource } from 'typeorm';
import { memberProfiles } from '../storage/group-avatar-store.js';
import type { AvatarMember } from './compose-group-avatar.js';

export interface DescribedMember extends AvatarMember {
  /** Changes whenever what the tile shows changes (name or picture): part of the render's fingerprint. */
  version: string;
}

export interface MemberProfiles {
  /** One entry per id, in the order given; rejects when the directory cannot answer (the render is retried). */
  describe(userIds: readonly string[]): Promise<DescribedMember[]>;
}

export class CoreMemberProfiles implements MemberProfiles {
  constructor(
    private readonly database: DataSource,
    private readonly blobs: BlobStore,
    private readonly directory: Client<typeof internalV1.UserDirectoryServiceDefinition>,
    private readonly logger: Logger,
  ) {}

  async describe(userIds: readonly string[]): Promise<DescribedMember[]> {
    const [{ users }, profiles] = await Promise.all([
      this.directory.lookupUsers({ userIds: [...userIds] }),
      memberProfiles(this.database, userIds),
    ]);
    const names = new Map(users.map((user) => [user.userId, user.displayName || user.username]));
    const byId = new Map(profiles.map((profile) => [profile.user_id, profile]));
    return Promise.all(
      userIds.map(async (userId) => {
        const profile = byId.get(userId);
        const label = profile?.nickname || names.get(userId) || '';
        const key = profile?.picture_key ?? null;
        const image = key === null ? undefined : await this.picture(userId, key);
        return { userId, label, ...(image && { image }), version: `${label}|${image ? key : ''}` };
      }),
    );
  }

  private async picture(userId: string, key: string): Promise<Uint8Array | undefined> {
    try {
      return await this.blobs.get(key);
    } catch (error) {
      // The picture is a nicety: without it the member gets an initial tile.
      this.logger.warn({ err: error, userId }, 'profile picture unreadable for a group avatar; using an initial');
      return undefined;
    }
  }
}
