// Helpers for the group tests: more registered users than the harness's three,
// GroupService clients per user, and the GroupEvents found in pulled messages.
import { randomUUID } from 'node:crypto';
import { ClientError, createChannel, createClient, Metadata, Status, type Channel, type Client } from 'nice-grpc';
import assert from 'node:assert/strict';
import { groupV1, messageV1 } from '@im-mesh/contracts';
import type { CoreHarness } from './core-harness.js';

export type GroupClient = Client<typeof groupV1.GroupServiceDefinition>;

export class GroupFixture {
  private readonly channels: Channel[] = [];

  constructor(private readonly h: CoreHarness) {}

  /** `count` new users the auth double knows. */
  users(count: number): string[] {
    return Array.from({ length: count }, () => {
      const id = randomUUID();
      this.h.auth.addUser(id);
      return id;
    });
  }

  groupsAs(userId: string, deviceId = `${userId.slice(0, 8)}-phone`): GroupClient {
    const channel = createChannel(this.h.core.grpcAddress);
    this.channels.push(channel);
    const metadata = Metadata({ authorization: `Bearer ${this.h.auth.token(userId, deviceId)}` });
    return createClient(groupV1.GroupServiceDefinition, channel, { '*': { metadata } });
  }

  /** Every message of the conversation the user may pull, in seq order. */
  async pullAll(userId: string, conversationId: string, deviceId = `${userId.slice(0, 8)}-phone`): Promise<messageV1.Message[]> {
    const client = this.h.messagesAs(userId, deviceId);
    const all: messageV1.Message[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await client.pullMessages({ conversationId, afterSeq, limit: 500 });
      all.push(...page.messages);
      if (!page.hasMore || page.messages.length === 0) return all;
      afterSeq = page.messages[page.messages.length - 1]!.seq;
    }
  }

  close(): void {
    for (const channel of this.channels) channel.close();
  }
}

/** The group events among `messages`, in order. */
export function groupEvents(messages: readonly messageV1.Message[]): messageV1.GroupEvent[] {
  return messages.flatMap((m) => (m.content?.body?.$case === 'groupEvent' ? [m.content.body.value] : []));
}

/** The `$case`s of the group events among `messages`. */
export function eventKinds(messages: readonly messageV1.Message[]): string[] {
  return groupEvents(messages).map((e) => e.change?.$case ?? 'none');
}

/** Asserts that `call` fails with `code` (and, if given, a message matching `pattern`). */
export async function rejectsWith(call: Promise<unknown>, code: Status, pattern?: RegExp): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ClientError, `expected a gRPC error, got ${String(error)}`);
    assert.equal(Status[error.code], Status[code], error.details);
    if (pattern) assert.match(error.details, pattern);
    return true;
  });
}
