// What a group picture shows of each member: a name to take the initial from
// and, when they have one, their own picture. Names come from auth's user
// directory (core never reads auth's tables). Profile pictures are not in the
// directory yet, so every member gets an initial tile until they are.
import type { Client } from 'nice-grpc';
import type { internalV1 } from '@im-mesh/contracts';
import type { AvatarMember } from './compose-group-avatar.js';

export interface MemberProfiles {
  /** One entry per id, in the order given; rejects when the directory cannot answer (the render is retried). */
  describe(userIds: readonly string[]): Promise<AvatarMember[]>;
}

export class DirectoryMemberProfiles implements MemberProfiles {
  constructor(private readonly client: Client<typeof internalV1.UserDirectoryServiceDefinition>) {}

  async describe(userIds: readonly string[]): Promise<AvatarMember[]> {
    const { users } = await this.client.lookupUsers({ userIds: [...userIds] });
    const byId = new Map(users.map((user) => [user.userId, user]));
    return userIds.map((userId) => {
      const user = byId.get(userId);
      return { userId, label: user?.displayName || user?.username || '' };
    });
  }
}
