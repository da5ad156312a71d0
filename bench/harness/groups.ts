// Forms the groups a scenario sends into, through the edge over native gRPC
// with the owner's access token: the generated nice-grpc GroupService client,
// as the load workers call MessageService. Setup, never measured.
import { groupV1 } from '@im-mesh/contracts';
import { createChannel, createClient, Metadata, type Channel } from 'nice-grpc';
import { randomUUID } from 'node:crypto';
import type { BenchDevice } from './accounts.js';

/**
 * The most members a group may have, the owner included: core's
 * CORE_GROUP_MEMBER_LIMIT, 2,000 unless configured (the bench does not).
 * CreateGroup takes up to this minus one member ids besides the owner, so any
 * group that fits is formed by one call; InviteMembers, 100 ids per call, is
 * never needed here.
 */
export const GROUP_MEMBER_LIMIT = 2_000;

const CALL_TIMEOUT_MS = 60_000;
const PICTURE_POLL_MS = 250;

export interface BenchGroup {
  /** Also the group conversation's id. */
  groupId: string;
  /** Every member, the owner first. */
  memberUserIds: string[];
}

export class GroupSetup {
  private readonly channel: Channel;
  private readonly groups: groupV1.GroupServiceClient;

  constructor(edgeUrl: string) {
    this.channel = createChannel(edgeUrl);
    this.groups = createClient(groupV1.GroupServiceDefinition, this.channel);
  }

  /** Creates a group owned by `owner`'s user with `memberUserIds` (the owner's own id among them is ignored by the server). */
  async create(owner: BenchDevice, memberUserIds: readonly string[], name: string): Promise<BenchGroup> {
    const members = [owner.userId, ...new Set(memberUserIds.filter((id) => id !== owner.userId))];
    if (members.length > GROUP_MEMBER_LIMIT) {
      throw new Error(`A group of ${members.length} members is over the server's member limit of ${GROUP_MEMBER_LIMIT}.`);
    }
    const { group } = await this.groups.createGroup(
      { name, memberUserIds: members.slice(1), historyVisibleToNewMembers: false, clientRequestId: randomUUID() },
      { metadata: bearer(owner.accessToken), signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
    if (group === undefined) throw new Error('CreateGroup answered without a group');
    // The loss check expects every one of these members to get every send: make sure the server agrees on who they are.
    if (group.memberCount !== members.length) {
      throw new Error(`CreateGroup made a group of ${group.memberCount} members; ${members.length} were asked for`);
    }
    return { groupId: group.groupId, memberUserIds: members };
  }

  /**
   * Waits until the group's generated picture is rendered; false if it is not
   * within `timeoutMs`. Core renders it once membership has been quiet for
   * CORE_GROUP_AVATAR_QUIET_MS (1.5 s): it composes a PNG and appends an event
   * pushed to every member. Waiting keeps that one-off work out of the measured
   * phases.
   */
  async waitForPicture(owner: BenchDevice, groupId: string, timeoutMs: number): Promise<boolean> {
    const giveUpAt = Date.now() + timeoutMs;
    while (Date.now() < giveUpAt) {
      const { group } = await this.groups.getGroup({ groupId }, { metadata: bearer(owner.accessToken), signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      if (group !== undefined && group.avatarUrl !== '') return true;
      await new Promise((done) => setTimeout(done, PICTURE_POLL_MS));
    }
    return false;
  }

  close(): void {
    this.channel.close();
  }
}

function bearer(token: string): Metadata {
  return Metadata({ authorization: `Bearer ${token}` });
}
