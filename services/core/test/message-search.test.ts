// SearchMessages over gRPC: words and substrings (Chinese by any 2+ character
// substring), newest first, paged, and only what the caller may see: their own
// conversations, not recalled, not deleted for them; edits are searched as
// edited.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Status } from 'nice-grpc';
import { CoreHarness, inConversation, text, toUser, type MessageClient } from './support/core-harness.js';
import { expectStatus, file, readyFiles } from './support/message-fixtures.js';

describe('message search', () => {
  let h: CoreHarness;
  let alice: MessageClient;
  let bob: MessageClient;
  let carol: MessageClient;
  let aliceAndBob: string;

  before(async () => {
    h = await CoreHarness.start();
    alice = h.messagesAs(h.alice, 'alice-phone');
    bob = h.messagesAs(h.bob, 'bob-phone');
    carol = h.messagesAs(h.carol, 'carol-phone');
    aliceAndBob = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hello bob') })).conversationId;
  });
  after(async () => {
    await h.close();
  });

  const say = (client: MessageClient, conversationId: string, words: string) =>
    client.sendMessage({ target: inConversation(conversationId), clientMsgId: randomUUID(), content: text(words) });
  const found = async (client: MessageClient, query: string, conversationId = '') =>
    (await client.searchMessages({ query, conversationId, pageSize: 100 })).messages.map((m) =>
      m.content?.body?.$case === 'text' ? m.content.body.value.text : m.content?.body?.$case,
    );

  test('Chinese text is found by any substring of two or more characters', async () => {
    await say(alice, aliceAndBob, '我们明天在北京见面吧');
    await say(bob, aliceAndBob, '上海的天气很好');
    assert.deepEqual(await found(bob, '北京'), ['我们明天在北京见面吧']);
    assert.deepEqual(await found(bob, '明天在北'), ['我们明天在北京见面吧']);
  });

  test('words match case-insensitively, by full-text and by substring; file names are searchable', async () => {
    await say(alice, aliceAndBob, 'The Quarterly REPORT is ready');
    await readyFiles(h, h.alice);
    await alice.sendMessage({ target: inConversation(aliceAndBob), clientMsgId: randomUUID(), content: file({ name: 'quarterly-numbers.xlsx' }) });
    assert.deepEqual(await found(bob, 'quarterly report'), ['The Quarterly REPORT is ready']);
    assert.deepEqual(await found(bob, 'QUARTER'), ['file', 'The Quarterly REPORT is ready'], 'newest first');
    assert.deepEqual(await found(bob, '100%'), [], 'LIKE wildcards in the query are literal');
  });

  test('only the caller\'s conversations, not recalled, not deleted for them; edits are searched as edited', async () => {
    const carolAndAlice = (await carol.sendMessage({ target: toUser(h.alice), clientMsgId: randomUUID(), content: text('secret plan alpha') })).conversationId;
    assert.deepEqual(await found(bob, 'secret plan'), [], "Bob is not in Carol and Alice's conversation");
    assert.deepEqual(await found(alice, 'secret plan'), ['secret plan alpha']);

    const recalled = await say(alice, aliceAndBob, 'withdrawn plan beta');
    await alice.recallMessage({ messageId: recalled.messageId });
    assert.deepEqual(await found(bob, 'plan beta'), []);

    const hidden = await say(alice, aliceAndBob, 'hidden plan gamma');
    await bob.deleteMessagesForMe({ conversationId: aliceAndBob, messageIds: [hidden.messageId] });
    assert.deepEqual(await found(bob, 'plan gamma'), [], 'deleted for Bob');
    assert.deepEqual(await found(alice, 'plan gamma'), ['hidden plan gamma'], 'still there for Alice');

    const edited = await say(alice, aliceAndBob, 'meet at noon');
    await alice.editMessage({ messageId: edited.messageId, content: text('meet at midnight') });
    assert.deepEqual(await found(bob, 'noon'), []);
    assert.deepEqual(await found(bob, 'midnight'), ['meet at midnight']);
    assert.deepEqual(await found(alice, 'plan', carolAndAlice), ['secret plan alpha'], 'conversation_id narrows the search');
  });

  test('results page newest first with an opaque token; bad queries are INVALID_ARGUMENT', async () => {
    const conversationId = (await carol.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('page word 0') })).conversationId;
    for (let i = 1; i < 5; i += 1) await say(carol, conversationId, `page word ${i}`);
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await bob.searchMessages({ query: 'page word', conversationId: '', pageSize: 2, pageToken });
      seen.push(...page.messages.map((m) => (m.content?.body?.$case === 'text' ? m.content.body.value.text : '')));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    assert.deepEqual(seen, ['page word 4', 'page word 3', 'page word 2', 'page word 1', 'page word 0']);
    await expectStatus(bob.searchMessages({ query: 'x', conversationId: '', pageSize: 0, pageToken: '' }), Status.INVALID_ARGUMENT, /query must be 2 to 100/);
    await expectStatus(bob.searchMessages({ query: 'ok', conversationId: '', pageSize: 0, pageToken: 'nope' }), Status.INVALID_ARGUMENT, /page_token/);
  });
});
