// Blob keys of group pictures. Blob keys allow [A-Za-z0-9._/-] only, so the
// group id's "g:" prefix is dropped: group-avatars/<uuid>/...
import { GROUP_ID_PREFIX } from '../groups/group-rules.js';

export function avatarKeyPrefix(groupId: string): string {
  return `group-avatars/${groupId.startsWith(GROUP_ID_PREFIX) ? groupId.slice(GROUP_ID_PREFIX.length) : groupId}`;
}
