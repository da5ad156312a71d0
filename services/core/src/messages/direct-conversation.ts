// Direct conversations are named after their two participants, so both sides
// derive the same id without a lookup: `dm:<a>:<b>` with a < b (lexicographic
// order of the lowercase UUIDs).
export function directConversationId(userA: string, userB: string): string {
  const [first, second] = userA < userB ? [userA, userB] : [userB, userA];
  return `dm:${first}:${second}`;
}
