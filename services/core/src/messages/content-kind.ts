// Content kinds as stored in messages.kind (the MessageContent field number),
// and what each kind means for unread counts, search and editing.
import type { messageV1 } from '@im-mesh/contracts';

export type ContentCase = NonNullable<messageV1.MessageContent['body']>['$case'];

/** The MessageContent field number of each case: stored in messages.kind. */
export const CONTENT_KIND: Readonly<Record<ContentCase, number>> = {
  text: 1,
  image: 2,
  voice: 3,
  video: 4,
  file: 5,
  location: 6,
  custom: 7,
  reply: 8,
  forward: 9,
  system: 10,
  recall: 11,
  edit: 12,
  reaction: 13,
  pin: 14,
  groupEvent: 30,
  socialEvent: 40,
};

/**
 * Kinds people write (text to forward): these count as unread, can be replied
 * to, forwarded, reacted to and pinned. System notices, message events and
 * group/social events do not count as unread and are not targets.
 */
export const FIRST_PERSON_KIND = CONTENT_KIND.text;
export const LAST_PERSON_KIND = CONTENT_KIND.forward;

export function isPersonKind(kind: number): boolean {
  return kind >= FIRST_PERSON_KIND && kind <= LAST_PERSON_KIND;
}

/** Kinds whose text the sender may edit. */
export const EDITABLE_CASES: ReadonlySet<ContentCase> = new Set<ContentCase>(['text', 'reply']);

export function kindOf(content: messageV1.MessageContent): number {
  const body = content.body;
  return body ? CONTENT_KIND[body.$case] : 0;
}

/**
 * The text search matches for a message, or null when it has none: the words
 * of text and replies, a file's name, a location's title and address, a custom
 * message's fallback text, and for a forward the text of what it carries.
 */
export function searchTextOf(content: messageV1.MessageContent | undefined): string | null {
  const body = content?.body;
  if (!body) return null;
  switch (body.$case) {
    case 'text':
      return body.value.text;
    case 'reply':
      return body.value.text;
    case 'file':
      return body.value.name;
    case 'location':
      return [body.value.title, body.value.address].filter((part) => part !== '').join('\n') || null;
    case 'custom':
      return body.value.fallbackText || null;
    case 'forward':
      return searchTextOf(body.value.content);
    default:
      return null;
  }
}
