// Answers "which of these users exist?" for other services (core refuses a
// message to a user that does not exist without reading auth's tables). Ids that
// are not canonical UUIDs cannot name a user, so they are simply left out.
import { AppError, isUuid } from '@im-mesh/platform';
import type { AccountStore, UserSummaryRow } from '../storage/account-store.js';
import { isValidUsername } from './account-rules.js';

/** Most ids one LookupUsers call may ask about. */
export const LOOKUP_MAX_IDS = 1000;

export class UserDirectory {
  constructor(private readonly accounts: AccountStore) {}

  /** The existing, enabled users among `userIds`; unknown, disabled and malformed ids are left out. */
  async lookup(userIds: string[]): Promise<UserSummaryRow[]> {
    if (userIds.length > LOOKUP_MAX_IDS) {
      throw AppError.invalidArgument(`user_ids may hold at most ${LOOKUP_MAX_IDS} ids per call; split the lookup.`);
    }
    const ids = [...new Set(userIds.filter(isUuid))];
    return this.accounts.findActiveUsers(ids);
  }

  /**
   * The enabled user with exactly this username (any letter case), for user
   * search; undefined when none. A name no account could hold is not looked up.
   */
  async findByUsername(username: string): Promise<UserSummaryRow | undefined> {
    if (!isValidUsername(username)) return undefined;
    return this.accounts.findActiveUserByUsername(username);
  }
}
