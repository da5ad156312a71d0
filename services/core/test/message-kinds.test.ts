// Every message kind over gRPC: valid content is stored and pulled back as
// sent (normalised); invalid content is INVALID_ARGUMENT with a readable reason
// and stores nothing; server-written kinds cannot be sent; replies and forwards
// only name messages the sender can see.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Status } from 'nice-grpc';
import type { messageV1 } from '@im-mesh/contracts';
import { CoreHarness, inConversation, text, toUser, type MessageClient } from './support/core-harness.js';
import {
  custom,
  expectStatus,
  file,
  FILE_ID,
  forward,
  image,
  location,
  messageRows,
  readyFiles,
  DOCUMENT_FILE_ID,
  THUMBNAIL_FILE_ID,
  VOICE_FILE_ID,
  reply,
  video,
  voice,
} from './support/message-fixtures.js';

describe('message kinds', () => {
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
    aliceAndBob = (await alice.sendMessage({ target: toUser(h.bob), clientMsgId: randomUUID(), content: text('hi') })).conversationId;
    await readyFiles(h, h.alice);
  });
  after(async () => {
    await h.close();
  });

  async function sendAndPull(content: messageV1.MessageContent, client = alice, conversationId = aliceAndBob): Promise<messageV1.Message> {
    const sent = await client.sendMessage({ target: inConversation(conversationId), clientMsgId: randomUUID(), content });
    const pulled = await bob.pullMessages({ conversationId, afterSeq: sent.seq - 1, limit: 1 });
    assert.equal(pulled.messages[0]?.messageId, sent.messageId);
    return pulled.messages[0]!;
  }

  async function refused(content: messageV1.MessageContent, reason: RegExp, client = alice): Promise<void> {
    const before = await messageRows(h);
    await expectStatus(
      client.sendMessage({ target: inConversation(aliceAndBob), clientMsgId: randomUUID(), content }),
      Status.INVALID_ARGUMENT,
      reason,
    );
    assert.deepEqual(await messageRows(h), before, 'a refused send changes no row');
  }

  test('image, voice, video, file, location and custom messages arrive as sent', async () => {
    for (const content of [image(), voice(), video(), file(), location(), custom()]) {
      const pulled = await sendAndPull(content);
      assert.deepEqual(pulled.content, content, `${content.body!.$case} round-trips`);
    }
    // Ids and media types are normalised to lowercase; an empty file type becomes octet-stream.
    const shouty = await sendAndPull(file({ fileId: DOCUMENT_FILE_ID.toUpperCase(), mimeType: '', name: '  notes.txt ' }));
    assert.deepEqual(shouty.content, file({ mimeType: 'application/octet-stream', name: 'notes.txt' }));
    const kinds = await h.query<{ kind: number }>('SELECT DISTINCT kind FROM core.messages WHERE conversation_id = $1 ORDER BY kind', [aliceAndBob]);
    assert.deepEqual(
      kinds.map((k) => k.kind),
      [1, 2, 3, 4, 5, 6, 7],
      'each kind is stored with its MessageContent field number',
    );
  });

  test('invalid image, voice, video and file content is refused and stores nothing', async () => {
    await refused(image({ fileId: 'not-a-uuid' }), /file_id must be the id CompleteUpload returned/);
    await refused(image({ sizeBytes: 0 }), /size_bytes of an image must be 1 to 52428800 bytes/);
    await refused(image({ sizeBytes: 60 * 1024 * 1024 }), /size_bytes of an image/);
    await refused(image({ mimeType: 'application/pdf' }), /mime_type of an image must be one of image\/jpeg/);
    await refused(image({ width: 0 }), /width and height of an image must each be 1 to 20000 pixels/);
    await refused(image({ thumbnail: { fileId: FILE_ID, width: 5000, height: 10 } }), /thumbnail/);
    await refused(voice({ durationMs: 0 }), /duration_ms of a voice message must be 1 to 600000/);
    await refused(voice({ durationMs: 600_001 }), /duration_ms of a voice message/);
    await refused(voice({ mimeType: 'video/mp4' }), /audio\/\* type/);
    await refused(video({ mimeType: 'video/x-flv' }), /mime_type of a video must be one of/);
    await refused(video({ durationMs: 0 }), /duration_ms of a video/);
    await refused(file({ name: '' }), /name of a file must be 1 to 255 characters/);
    await refused(file({ name: '../../etc/passwd' }), /without control characters, '\/' or '\\'/);
    await refused(file({ name: 'a\u0000b' }), /name of a file/);
    await refused(file({ mimeType: 'not a type' }), /mime_type of a file must be a media type/);
  });

  test('media content must describe its upload truthfully: kind, sniffed type, size and dimensions', async () => {
    await refused(image({ fileId: VOICE_FILE_ID }), /The image names an upload of another kind/);
    await refused(image({ mimeType: 'image/jpeg' }), /The image is image\/png, not image\/jpeg/);
    await refused(image({ sizeBytes: 99 }), /The image is 123456 bytes, not 99/);
    await refused(image({ width: 801 }), /The image is 800x600 pixels, not 801x600/);
    await refused(image({ thumbnail: { fileId: DOCUMENT_FILE_ID, width: 10, height: 10 } }), /The thumbnail names an upload of another kind/);
    await refused(voice({ fileId: FILE_ID, mimeType: 'audio/aac' }), /The voice clip names an upload of another kind/);
    await refused(video({ thumbnail: { fileId: THUMBNAIL_FILE_ID, width: 100, height: 100 } }), /The thumbnail is 320x180 pixels/);
    await refused(file({ sizeBytes: 1 }), /The file is 2048 bytes, not 1/);
    // Alice's upload, never sent where Carol can see it, is not Carol's to use (and her new chat is not created).
    const before = await messageRows(h);
    await expectStatus(
      carol.sendMessage({ target: toUser(h.alice), clientMsgId: randomUUID(), content: image() }),
      Status.FAILED_PRECONDITION,
      /is not a completed upload you can use/,
    );
    assert.deepEqual(await messageRows(h), before);
  });

  test('invalid location and custom content is refused and stores nothing', async () => {
    await refused(location({ latitude: 91 }), /latitude must be -90 to 90/);
    await refused(location({ longitude: -180.5 }), /longitude must be -180 to 180/);
    await refused(location({ latitude: Number.NaN }), /latitude/);
    await refused(location({ title: 'x'.repeat(201) }), /title can have at most 200 characters/);
    await refused(custom({ type: '' }), /type of a custom message must be 1 to 64/);
    await refused(custom({ type: 'has space' }), /type of a custom message/);
    await refused(custom({ json: '{"unterminated": ' }), /must be valid JSON/);
    await refused(custom({ json: JSON.stringify({ blob: 'x'.repeat(16_400) }) }), /at most 16384 bytes/);
  });

  test('kinds only the server writes cannot be sent', async () => {
    await refused({ body: { $case: 'system', value: { text: 'I am the server', code: '' } } }, /system content is written by the server/);
    await refused(
      { body: { $case: 'recall', value: { targetMessageId: randomUUID(), targetSeq: 1, recalledBy: h.alice } } },
      /recall content is written by the server/,
    );
    await refused(
      { body: { $case: 'reaction', value: { targetMessageId: randomUUID(), targetSeq: 1, userId: h.alice, emoji: 'x', added: true } } },
      /reaction content is written by the server/,
    );
  });

  test('a reply quotes a message of the same conversation; the server fills in who and which seq', async () => {
    const quoted = await alice.sendMessage({ target: inConversation(aliceAndBob), clientMsgId: randomUUID(), content: text('lunch?') });
    const pulled = await sendAndPull(reply(quoted.messageId, 'yes!'), bob);
    assert.deepEqual(pulled.content, {
      body: { $case: 'reply', value: { quotedMessageId: quoted.messageId, text: 'yes!', mentionUserIds: [], quotedSenderId: h.alice, quotedSeq: quoted.seq } },
    });

    // Carol's conversation with Alice is not Bob's to quote from, nor is a message id that does not exist.
    const carolsOwn = await carol.sendMessage({ target: toUser(h.alice), clientMsgId: randomUUID(), content: text('secret') });
    await refused(reply(carolsOwn.messageId, 'peek'), /The quoted message was not found, or you cannot see it/, bob);
    await refused(reply(randomUUID(), 'ghost'), /The quoted message was not found/, bob);
    // Alice can see it but it is in another conversation.
    await refused(reply(carolsOwn.messageId, 'wrong chat'), /only quote a message of the same conversation/);
    await refused(reply('nope', 'bad id'), /quoted_message_id must be a message id/);
    await refused(reply(quoted.messageId, '   '), /A reply cannot be empty/);
  });

  test('a forward copies the original from a conversation the sender can see; mentions are dropped, origins kept', async () => {
    const carolsOwn = await carol.sendMessage({
      target: toUser(h.alice),
      clientMsgId: randomUUID(),
      content: text(`hello @alice`, [h.alice]),
    });
    const forwarded = await sendAndPull(forward(carolsOwn.messageId));
    assert.equal(forwarded.content?.body?.$case, 'forward');
    const value = (forwarded.content!.body as { $case: 'forward'; value: messageV1.ForwardContent }).value;
    assert.deepEqual(value.content, text('hello @alice'), 'the text travels, the mention does not');
    assert.equal(value.originalSenderId, h.carol);
    assert.equal(value.sourceMessageId, carolsOwn.messageId);

    // Forwarding the forward keeps Carol as the original sender and carries the same text.
    const again = await alice.sendMessage({ target: toUser(h.carol), clientMsgId: randomUUID(), content: forward(forwarded.messageId) });
    const [twice] = (await carol.pullMessages({ conversationId: again.conversationId, afterSeq: again.seq - 1 })).messages;
    const twiceValue = (twice!.content!.body as { $case: 'forward'; value: messageV1.ForwardContent }).value;
    assert.equal(twiceValue.originalSenderId, h.carol);
    assert.deepEqual(twiceValue.content, text('hello @alice'));

    // Bob cannot forward from Carol and Alice's conversation.
    await refused(forward(carolsOwn.messageId), /The forwarded message was not found, or you cannot see it/, bob);
  });
});
