// Which files a message references: any `file_id` field at any depth of its
// content (an image, a video's thumbnail, the content inside a forward).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { messageV1 } from '@im-mesh/contracts';
import { fileIdsOf } from '../src/files/file-references.js';

const IMAGE = '0190f0a0-0000-7000-8000-00000000000a';
const THUMB = '0190f0a0-0000-7000-8000-00000000000b';

test('an image and its thumbnail, a forwarded video, and repeats counted once; text references nothing', () => {
  const image: messageV1.MessageContent = {
    body: {
      $case: 'image',
      value: { fileId: IMAGE.toUpperCase(), sizeBytes: 10, mimeType: 'image/png', width: 1, height: 1, thumbnail: { fileId: THUMB, width: 1, height: 1 } },
    },
  };
  assert.deepEqual(fileIdsOf(image).sort(), [IMAGE, THUMB]);

  const forward: messageV1.MessageContent = {
    body: {
      $case: 'forward',
      value: {
        sourceMessageId: 'm',
        content: {
          body: {
            $case: 'video',
            value: { fileId: IMAGE, sizeBytes: 10, mimeType: 'video/mp4', width: 1, height: 1, durationMs: 5, thumbnail: { fileId: IMAGE, width: 1, height: 1 } },
          },
        },
        originalSenderId: 'u',
        originalSentAt: undefined,
      },
    },
  };
  assert.deepEqual(fileIdsOf(forward), [IMAGE]);
  assert.deepEqual(fileIdsOf({ body: { $case: 'text', value: { text: 'file_id: x', mentionUserIds: [] } } }), []);
  assert.deepEqual(fileIdsOf(undefined), []);
});
