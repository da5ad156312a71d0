// Direct conversations are named after their two participants, so both sides
// derive the same id without a lookup: `dm:<a>:<b>` with a < b (lexicographic
// order of the lowercase UUIDs).
export function directConversationId(userA: string, userB: string): string {
  const [first, second] = userA < userB ? [userA, userB] : [userB, userA];
  return `dm:${first}:${second}`;
}

/** True for an id made by directConversationId (the shape alone; it may not exist yet). */
export function isDirectConversationId(conversationId: string): boolean {
  return conversationId.startsWith('dm:');
}

/** The other participant of direct conversation `conversationId` when `userId` is one of the two; undefined otherwise. */
export function directPeerOf(conversationId: string, userId: string): string | undefined {
  const parts = conversationId.split(':');
  if (parts.length !== 3 || parts[0] !== 'dm') return undefined;
  const [, first, second] = parts;
  if (first === userId) return second;
  if (second === userId) return first;
  return undefined;
}
