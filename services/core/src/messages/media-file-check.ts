// Inside the send transaction, after the files were found usable
// (files/file-references.ts): an image, voice or video message must name an
// upload of that kind whose sniffed type, size and (for images) dimensions are
// what the message says, so a client cannot pass a PDF off as a picture or lie
// about a clip's size. A file message only has to get the size right; a forward
// carries content that was checked when it was first sent.
import { AppError } from '@im-mesh/platform';
import { fileV1, type messageV1 } from '@im-mesh/contracts';
import { mediaFileFacts, type MediaFileFacts } from '../storage/media-file-facts.js';
import type { Sql } from '../storage/sql.js';

interface Expectation {
  fileId: string;
  what: string;
  kinds: readonly number[];
  contentType?: string;
  sizeBytes?: number;
  width?: number;
  height?: number;
}

const PICTURE_KINDS = [fileV1.FileKind.FILE_KIND_IMAGE, fileV1.FileKind.FILE_KIND_AVATAR];
const ANY_KIND = [
  fileV1.FileKind.FILE_KIND_IMAGE,
  fileV1.FileKind.FILE_KIND_VOICE,
  fileV1.FileKind.FILE_KIND_VIDEO,
  fileV1.FileKind.FILE_KIND_FILE,
  fileV1.FileKind.FILE_KIND_AVATAR,
];

function expectationsOf(content: messageV1.MessageContent): Expectation[] {
  const body = content.body;
  const thumbnail = (t: messageV1.Thumbnail | undefined): Expectation[] =>
    t ? [{ fileId: t.fileId, what: 'The thumbnail', kinds: PICTURE_KINDS, width: t.width, height: t.height }] : [];
  switch (body?.$case) {
    case 'image':
      return [
        {
          fileId: body.value.fileId,
          what: 'The image',
          kinds: PICTURE_KINDS,
          contentType: body.value.mimeType,
          sizeBytes: body.value.sizeBytes,
          width: body.value.width,
          height: body.value.height,
        },
        ...thumbnail(body.value.thumbnail),
      ];
    case 'voice':
      return [
        {
          fileId: body.value.fileId,
          what: 'The voice clip',
          kinds: [fileV1.FileKind.FILE_KIND_VOICE],
          contentType: body.value.mimeType,
          sizeBytes: body.value.sizeBytes,
        },
      ];
    case 'video':
      return [
        {
          fileId: body.value.fileId,
          what: 'The video',
          kinds: [fileV1.FileKind.FILE_KIND_VIDEO],
          contentType: body.value.mimeType,
          sizeBytes: body.value.sizeBytes,
        },
        ...thumbnail(body.value.thumbnail),
      ];
    case 'file':
      return [{ fileId: body.value.fileId, what: 'The file', kinds: ANY_KIND, sizeBytes: body.value.sizeBytes }];
    default:
      return [];
  }
}

function mismatch(expected: Expectation, facts: MediaFileFacts): string | undefined {
  if (!expected.kinds.includes(facts.kind)) return `${expected.what} names an upload of another kind; upload it as the kind of message you send.`;
  if (expected.contentType !== undefined && facts.content_type !== expected.contentType) {
    return `${expected.what} is ${facts.content_type ?? 'of an unknown type'}, not ${expected.contentType}.`;
  }
  if (expected.sizeBytes !== undefined && facts.size_bytes !== expected.sizeBytes) {
    return `${expected.what} is ${facts.size_bytes} bytes, not ${expected.sizeBytes}.`;
  }
  // Dimensions are known only for pictures the server measured.
  if (expected.width !== undefined && facts.width > 0 && (facts.width !== expected.width || facts.height !== expected.height)) {
    return `${expected.what} is ${facts.width}x${facts.height} pixels, not ${expected.width}x${expected.height}.`;
  }
  return undefined;
}

/** INVALID_ARGUMENT when the content describes its files differently from what was uploaded. */
export async function checkMediaFiles(tx: Sql, content: messageV1.MessageContent): Promise<void> {
  const expectations = expectationsOf(content);
  if (expectations.length === 0) return;
  const facts = await mediaFileFacts(tx, [...new Set(expectations.map((e) => e.fileId))]);
  for (const expected of expectations) {
    const known = facts.get(expected.fileId);
    // Unknown files were refused by the usability check before this one.
    const problem = known && mismatch(expected, known);
    if (problem) throw AppError.invalidArgument(problem, 'FILE_DOES_NOT_MATCH');
  }
}
