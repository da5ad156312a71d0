// applyMessageEvent folds recall, edit, reaction and pin events onto the
// message they name, the way a live client keeps its cached messages current;
// applying an event twice, or an older edit after a newer one, changes nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { messageV1 } from '@im-mesh/contracts';
import { applyMessageEvent, eventTargetId } from '../src/message-events.js';

const target = messageV1.Message.fromPartial({
  messageId: 'm1',
  conversationId: 'c1',
  seq: 1,
  senderId: 'alice',
  content: { body: { $case: 'text', value: { text: 'v1', mentionUserIds: [] } } },
});

function event(seq: number, content: messageV1.MessageContent): messageV1.Message {
  return messageV1.Message.fromPartial({ messageId: `e${seq}`, conversationId: 'c1', seq, senderId: 'alice', content, sentAt: new Date(seq * 1000) });
}

const text = (value: string): messageV1.MessageContent => ({ body: { $case: 'text', value: { text: value, mentionUserIds: [] } } });
const edit = (seq: number, value: string, editCount: number) =>
  event(seq, { body: { $case: 'edit', value: { targetMessageId: 'm1', targetSeq: 1, content: text(value), editCount } } });
const react = (seq: number, userId: string, emoji: string, added: boolean) =>
  event(seq, { body: { $case: 'reaction', value: { targetMessageId: 'm1', targetSeq: 1, userId, emoji, added } } });

describe('applyMessageEvent', () => {
  test('edits apply in order, and an older edit arriving late does not win', () => {
    const v3 = applyMessageEvent(applyMessageEvent(target, edit(2, 'v2', 1)), edit(3, 'v3', 2));
    assert.deepEqual(v3.content, text('v3'));
    assert.equal(v3.editCount, 2);
    assert.deepEqual(applyMessageEvent(v3, edit(2, 'v2', 1)), v3);
    assert.equal(target.editCount, 0, 'inputs are not changed');
  });

  test('reactions count per user per emoji, twice-applied events change nothing, mine is marked', () => {
    let m = target;
    for (const e of [react(2, 'bob', '👍', true), react(3, 'me', '👍', true), react(3, 'me', '👍', true), react(4, 'bob', '🎉', true)]) {
      m = applyMessageEvent(m, e, 'me');
    }
    assert.deepEqual(
      m.reactions.map((r) => [r.emoji, r.count, r.userIds, r.mine]),
      [
        ['👍', 2, ['bob', 'me'], true],
        ['🎉', 1, ['bob'], false],
      ],
    );
    m = applyMessageEvent(applyMessageEvent(m, react(5, 'bob', '🎉', false), 'me'), react(5, 'bob', '🎉', false), 'me');
    assert.deepEqual(m.reactions.map((r) => r.emoji), ['👍']);
  });

  test('a recall clears the content and wins over later edits; pins toggle; other messages are untouched', () => {
    const recalled = applyMessageEvent(target, event(2, { body: { $case: 'recall', value: { targetMessageId: 'm1', targetSeq: 1, recalledBy: 'alice' } } }));
    assert.equal(recalled.recalled, true);
    assert.equal(recalled.content, undefined);
    assert.deepEqual(applyMessageEvent(recalled, edit(3, 'back', 1)), recalled);
    const pinned = applyMessageEvent(target, event(4, { body: { $case: 'pin', value: { targetMessageId: 'm1', targetSeq: 1, pinnedBy: 'bob', pinned: true } } }));
    assert.equal(pinned.pinned, true);
    const elsewhere = event(5, { body: { $case: 'pin', value: { targetMessageId: 'other', targetSeq: 9, pinnedBy: 'bob', pinned: true } } });
    assert.equal(applyMessageEvent(target, elsewhere), target);
    assert.equal(eventTargetId(elsewhere), 'other');
    assert.equal(eventTargetId(target), undefined, 'a text message is not an event');
  });
});
