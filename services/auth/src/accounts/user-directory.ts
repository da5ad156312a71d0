// Answers "which of these users exist?" for other services (core refuses a
// message to a user that does not exist without reading auth's tables). Ids that
// are not canonical UUIDs cannot name a user, so they are simply left out.
import { AppError, isUuid } from '@im-mesh/platform';
import type { ContactSealing } from '../protection/contact-sealing.js';
import type { AccountStore, UserSummaryRow } from '../storage/account-store.js';
import type { ContactStore } from '../storage/contact-store.js';
import { isValidUsername } from './account-rules.js';
import { normalisePhoneNumber } from './phone-number.js';

/** What finding users by phone number needs; absent when no field keys are configured. */
export interface PhoneDirectory {
  contacts: ContactStore;
  sealing: ContactSealing;
}

/** Most ids one LookupUsers call may ask about. */
export const LOOKUP_MAX_IDS = 1000;

export class UserDirectory {
  constructor(
    private readonly accounts: AccountStore,
    private readonly phones?: PhoneDirectory,
  ) {}

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

  /**
   * The enabled user holding this verified phone number, found by its blind
   * index; undefined when none, when the number is malformed, or when this
   * server has no field keys (then no number is stored at all).
   */
  async findByPhoneNumber(phoneNumber: string): Promise<UserSummaryRow | undefined> {
    if (!this.phones) return undefined;
    let phone: string;
    try {
      phone = normalisePhoneNumber(phoneNumber);
    } catch {
      // Not a number anyone could have registered: nobody to find.
      return undefined;
    }
    const owner = await this.phones.contacts.findOwner('phone', this.phones.sealing.index('phone', phone));
    if (!owner || owner.disabled) return undefined;
    const [user] = await this.accounts.findActiveUsers([owner.userId]);
    return user;
  }
}
