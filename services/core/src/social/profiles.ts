// Profiles, user search and privacy: what users see of each other. Names come
// from auth (UserNames); nickname, avatar, signature and the stranger setting
// live in core's user_profiles, with defaults for users who never set them.
import { AppError, isUuid, type AccessTokenClaims } from '@im-mesh/platform';
import type { userV1 } from '@im-mesh/contracts';
import { FILE_READY, type FileStore } from '../storage/file-store.js';
import type { ProfileRow, SocialStore } from '../storage/social-store.js';
import type { UserIdentity, UserNames } from '../upstream/user-directory.js';
import { checkNickname, checkPhoneQuery, checkSignature, checkUsernameQuery, MAX_USERS_PER_LOOKUP, userIdOf } from './social-rules.js';

/** im.file.v1.FileKind values a profile picture may be. */
const AVATAR_KINDS = new Set([1, 5]);

export class Profiles {
  constructor(
    private readonly store: SocialStore,
    private readonly files: FileStore,
    private readonly names: UserNames,
    /** Whether users who never chose are findable by phone (CORE_PHONE_SEARCH_DEFAULT). */
    private readonly phoneSearchDefault: boolean,
  ) {}

  async getMe(caller: AccessTokenClaims): Promise<userV1.GetMeResponse> {
    const identity = await this.identityOf(caller.userId);
    const row = (await this.store.profiles([caller.userId])).get(caller.userId);
    return { profile: profileOf(identity, row), privacy: this.privacyOf(row) };
  }

  async updateProfile(caller: AccessTokenClaims, request: userV1.UpdateProfileRequest): Promise<userV1.UpdateProfileResponse> {
    const nickname = request.nickname === undefined ? undefined : checkNickname(request.nickname);
    const signature = request.signature === undefined ? undefined : checkSignature(request.signature);
    let avatarFileId: string | null | undefined;
    if (request.avatarFileId !== undefined) {
      avatarFileId = request.avatarFileId.trim() === '' ? null : await this.checkAvatar(caller.userId, request.avatarFileId);
    }
    const identity = await this.identityOf(caller.userId);
    const row = await this.store.updateProfile(caller.userId, {
      ...(nickname !== undefined && { nickname }),
      ...(signature !== undefined && { signature }),
      ...(avatarFileId !== undefined && { avatarFileId }),
    });
    return { profile: profileOf(identity, row) };
  }

  async getUsers(request: userV1.GetUsersRequest): Promise<userV1.GetUsersResponse> {
    if (request.userIds.length === 0 || request.userIds.length > MAX_USERS_PER_LOOKUP) {
      throw AppError.invalidArgument(`user_ids must hold 1 to ${MAX_USERS_PER_LOOKUP} ids.`, 'USER_IDS_COUNT');
    }
    const ids = [...new Set(request.userIds.map((id) => userIdOf(id, 'Every user_ids entry')))];
    return { profiles: await this.profilesOf(ids) };
  }

  async searchUsers(request: userV1.SearchUsersRequest): Promise<userV1.SearchUsersResponse> {
    const query = request.query;
    if (!query) throw AppError.invalidArgument('Say what to search for: user_id or username.', 'QUERY_MISSING');
    if (query.$case === 'userId') return { profiles: await this.profilesOf([userIdOf(query.value)]) };
    const identity =
      query.$case === 'username'
        ? await this.names.findByUsername(checkUsernameQuery(query.value))
        : await this.names.findByPhone(checkPhoneQuery(query.value));
    if (!identity) return { profiles: [] };
    const row = (await this.store.profiles([identity.userId])).get(identity.userId);
    // A user who is not findable by phone is not found by it: the same empty answer as an unknown number.
    if (query.$case === 'phoneNumber' && !this.privacyOf(row).findableByPhone) return { profiles: [] };
    return { profiles: [profileOf(identity, row)] };
  }

  async updatePrivacy(caller: AccessTokenClaims, request: userV1.UpdatePrivacyRequest): Promise<userV1.UpdatePrivacyResponse> {
    if (request.allowStrangerMessages === undefined && request.findableByPhone === undefined) {
      const row = (await this.store.profiles([caller.userId])).get(caller.userId);
      return { privacy: this.privacyOf(row) };
    }
    const row = await this.store.setPrivacy(caller.userId, {
      ...(request.allowStrangerMessages !== undefined && { allowStrangers: request.allowStrangerMessages }),
      ...(request.findableByPhone !== undefined && { findableByPhone: request.findableByPhone }),
    });
    return { privacy: this.privacyOf(row) };
  }

  private privacyOf(row: ProfileRow | undefined): userV1.PrivacySettings {
    return {
      allowStrangerMessages: row?.allow_stranger_messages ?? true,
      findableByPhone: row?.findable_by_phone ?? this.phoneSearchDefault,
    };
  }

  private async profilesOf(ids: string[]): Promise<userV1.Profile[]> {
    const identities = await this.names.identities(ids);
    const rows = await this.store.profiles([...identities.keys()]);
    return ids.flatMap((id) => {
      const identity = identities.get(id);
      return identity ? [profileOf(identity, rows.get(id))] : [];
    });
  }

  private async identityOf(userId: string): Promise<UserIdentity> {
    const identity = (await this.names.identities([userId])).get(userId);
    // A valid token for a user auth no longer knows: the account was removed or disabled.
    if (!identity) throw AppError.notFound('Your account could not be found.', 'ACCOUNT_NOT_FOUND');
    return identity;
  }

  /** A completed image or avatar upload of the caller. */
  private async checkAvatar(userId: string, value: string): Promise<string> {
    const fileId = value.trim().toLowerCase();
    const file = isUuid(fileId) ? await this.files.find(fileId) : undefined;
    if (!file || file.owner_id !== userId || file.state !== FILE_READY) {
      throw AppError.failedPrecondition('avatar_file_id must be a completed upload of yours.', 'AVATAR_FILE_INVALID');
    }
    if (!AVATAR_KINDS.has(file.kind)) {
      throw AppError.failedPrecondition('A profile picture must be uploaded as kind avatar or image.', 'AVATAR_FILE_KIND');
    }
    return fileId;
  }
}

function profileOf(identity: UserIdentity, row: ProfileRow | undefined): userV1.Profile {
  return {
    userId: identity.userId,
    username: identity.username,
    nickname: row?.nickname ?? (identity.displayName || identity.username),
    avatarFileId: row?.avatar_file_id ?? '',
    signature: row?.signature ?? '',
  };
}

