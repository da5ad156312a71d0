// Bad SendMessage input: each case gets the right status code and a readable
// message, and nothing is stored (rows are counted before and after).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ClientError, createChannel, createClient, Metadata, Status } from 'nice-grpc';
import { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, inConversation, text, toUser, type MessageClient } from './support/core-harness.js';

describe('SendMessage rejects bad input and stores nothing', () => {
  let h: CoreHarness;
  let alice: MessageClient;
  let carol: MessageClient;
  let aliceAndBob: string;

  before(async () => {
    h = await CoreHarness.start();
    alice = h.messagesAs(h.alice, 'alice-phone');
    carol = h.messagesAs(h.carol, 'carol-phone');
    aliceAndBob = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hi') })).conversationId;
  });
  after(async () => {
    await h.close();
  });

  /**
   * What a send would change. The outbox is measured by its id sequence, not its
   * rows: the relay deletes rows as it pushes them, and a row inserted and pushed
   * between two counts would be invisible. Rejections never reach the insert.
   */
  async function stored(): Promise<unknown[]> {
    const [outboxIds] = await h.query('SELECT last_value, is_called FROM core.outbox_id_seq');
    return [await h.count('messages'), await h.count('conversations'), await h.count('conversation_members'), outboxIds];
  }

  async function rejects(
    client: MessageClient,
    request: Partial<messageV1.SendMessageRequest>,
    code: Status,
    message: RegExp,
  ): Promise<void> {
    const before = await stored();
    const lastSeq = await h.query<{ last_seq: number }>('SELECT last_seq FROM core.conversations ORDER BY id');
    await assert.rejects(
      client.sendMessage({ clientMsgId: randomUUID(), content: text('hello'), ...request }),
      (error: unknown) => {
        assert.ok(error instanceof ClientError, String(error));
        assert.equal(error.code, code, `${Status[error.code]}: ${error.details}`);
        assert.match(error.details, message);
        return true;
      },
    );
    assert.deepEqual(await stored(), before, 'rows in messages, conversations, members; outbox ids handed out');
    assert.deepEqual(await h.query('SELECT last_seq FROM core.conversations ORDER BY id'), lastSeq, 'no seq was taken');
  }

  test('empty text is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: toUser(h.bob), content: text('') }, Status.INVALID_ARGUMENT, /empty/);
  });

  test('whitespace-only text is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: toUser(h.bob), content: text(' \n\t\u00a0 ') }, Status.INVALID_ARGUMENT, /empty or only whitespace/);
  });

  test('text over 10,000 characters is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: toUser(h.bob), content: text('x'.repeat(10_001)) }, Status.INVALID_ARGUMENT, /10000 characters/);
  });

  test('missing content is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: toUser(h.bob), content: undefined }, Status.INVALID_ARGUMENT, /content is required/);
    await rejects(alice, { target: toUser(h.bob), content: { body: undefined } }, Status.INVALID_ARGUMENT, /content is required/);
  });

  test('a missing target or client_msg_id of the wrong length is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: undefined }, Status.INVALID_ARGUMENT, /conversation_id or to_user_id/);
    await rejects(alice, { target: toUser(h.bob), clientMsgId: '' }, Status.INVALID_ARGUMENT, /client_msg_id must be 1 to 64/);
    await rejects(alice, { target: toUser(h.bob), clientMsgId: 'x'.repeat(65) }, Status.INVALID_ARGUMENT, /client_msg_id must be 1 to 64/);
  });

  test('a message to oneself is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: toUser(h.alice) }, Status.INVALID_ARGUMENT, /cannot send a message to yourself/);
  });

  test('a to_user_id that is not a UUID is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: toUser('bob') }, Status.INVALID_ARGUMENT, /to_user_id must be a user id/);
  });

  test('a message to a user who does not exist is NOT_FOUND', async () => {
    await rejects(alice, { target: toUser(h.stranger) }, Status.NOT_FOUND, /no user with that id/);
  });

  test('an unknown conversation and a conversation of others get the same NOT_FOUND', async () => {
    await rejects(alice, { target: inConversation('dm:nope') }, Status.NOT_FOUND, /^Conversation not found, or you are not a member of it\.$/);
    await rejects(carol, { target: inConversation(aliceAndBob) }, Status.NOT_FOUND, /^Conversation not found, or you are not a member of it\.$/);
  });

  test('mentioning someone outside the conversation is INVALID_ARGUMENT', async () => {
    await rejects(alice, { target: toUser(h.bob), content: text('hey @carol', [h.carol]) }, Status.INVALID_ARGUMENT, /participants/);
    await rejects(alice, { target: inConversation(aliceAndBob), content: text('hey @carol', [h.carol]) }, Status.INVALID_ARGUMENT, /participants/);
    // Mentioning a participant is fine.
    const ok = await alice.sendMessage({ target: inConversation(aliceAndBob), clientMsgId: randomUUID(), content: text('hey @bob', [h.bob]) });
    assert.equal(ok.seq, 2);
  });

  test('mentioning a non-participant in the first message to a user creates no conversation', async () => {
    const dave = randomUUID();
    h.auth.addUser(dave);
    await rejects(alice, { target: toUser(dave), content: text('hi', [h.carol]) }, Status.INVALID_ARGUMENT, /participants/);
  });

  test('a call without a valid access token is UNAUTHENTICATED', async () => {
    const before = await stored();
    const expired = h.auth.token(h.alice, 'alice-phone', { expiresInSeconds: -60 });
    const channel = createChannel(h.core.grpcAddress);
    try {
      const client = createClient(messageV1.MessageServiceDefinition, channel);
      for (const authorization of [undefined, 'Bearer not-a-jwt', `Bearer ${expired}`]) {
        await assert.rejects(
          client.sendMessage(
            { target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hi') },
            authorization ? { metadata: Metadata({ authorization }) } : {},
          ),
          (error: unknown) => error instanceof ClientError && error.code === Status.UNAUTHENTICATED,
        );
      }
    } finally {
      channel.close();
    }
    assert.deepEqual(await stored(), before);
  });
});
