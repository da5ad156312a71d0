// UserDirectory: which users exist, answered by auth (core never reads auth's
// tables). Core asks only when a direct conversation is about to be created.
//
// Contract: `existing(ids)` resolves to the subset of `ids` that are registered
// users; it rejects (AppError UNAVAILABLE) when it cannot tell.
import { AppError, type Logger } from '@im-mesh/platform';
import { internalV1 } from '@im-mesh/contracts';
import type { Client } from 'nice-grpc';

export interface UserDirectory {
  existing(userIds: readonly string[]): Promise<Set<string>>;
}

/** What auth knows of a user that profiles show: the login name and the display name given at registration. */
export interface UserIdentity {
  userId: string;
  username: string;
  displayName: string;
}

/** Names for profiles and user search; rejects (UNAVAILABLE) when auth cannot answer. */
export interface UserNames {
  /** The existing users among `userIds`. */
  identities(userIds: readonly string[]): Promise<Map<string, UserIdentity>>;
  /** The user with exactly this username (any letter case), if any. */
  findByUsername(username: string): Promise<UserIdentity | undefined>;
  /** The user who verified this phone number, if any (auth matches it through its blind index). */
  findByPhone(phoneNumber: string): Promise<UserIdentity | undefined>;
}

type UserDirectoryClient = Client<typeof internalV1.UserDirectoryServiceDefinition>;

/**
 * Asks auth's internalV1.UserDirectoryService over gRPC and remembers the users it
 * confirmed. Only positive answers are cached: a user registered a moment ago must
 * not stay "unknown". Users are not deleted in this issue; when they are, the
 * cache needs an expiry.
 */
export class GrpcUserDirectory implements UserDirectory, UserNames {
  private readonly known = new Set<string>();

  constructor(
    private readonly client: UserDirectoryClient,
    private readonly logger: Logger,
    /** Most users remembered; the oldest are forgotten first. */
    private readonly maxCached = 100_000,
  ) {}

  async existing(userIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unknown: string[] = [];
    for (const id of new Set(userIds)) {
      if (this.known.has(id)) found.add(id);
      else unknown.push(id);
    }
    if (unknown.length === 0) return found;
    let response: internalV1.LookupUsersResponse;
    try {
      response = await this.client.lookupUsers({ userIds: unknown });
    } catch (error) {
      this.logger.warn({ err: error }, 'user directory lookup failed');
      throw AppError.unavailable('Cannot check the recipient right now; try again shortly.', error);
    }
    for (const user of response.users) {
      if (!unknown.includes(user.userId)) continue;
      found.add(user.userId);
      this.remember(user.userId);
    }
    return found;
  }

  async identities(userIds: readonly string[]): Promise<Map<string, UserIdentity>> {
    const wanted = [...new Set(userIds)];
    if (wanted.length === 0) return new Map();
    const response = await this.ask(() => this.client.lookupUsers({ userIds: wanted }));
    const found = new Map<string, UserIdentity>();
    for (const user of response.users) {
      if (!wanted.includes(user.userId)) continue;
      found.set(user.userId, { userId: user.userId, username: user.username, displayName: user.displayName });
      this.remember(user.userId);
    }
    return found;
  }

  async findByUsername(username: string): Promise<UserIdentity | undefined> {
    return this.find({ $case: 'username', value: username });
  }

  async findByPhone(phoneNumber: string): Promise<UserIdentity | undefined> {
    return this.find({ $case: 'phoneNumber', value: phoneNumber });
  }

  private async find(key: internalV1.FindUserRequest['key']): Promise<UserIdentity | undefined> {
    const response = await this.ask(() => this.client.findUser({ key }));
    const user = response.user;
    if (!user) return undefined;
    this.remember(user.userId);
    return { userId: user.userId, username: user.username, displayName: user.displayName };
  }

  private async ask<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.logger.warn({ err: error }, 'user directory lookup failed');
      throw AppError.unavailable('The user directory cannot be reached right now; try again shortly.', error);
    }
  }

  private remember(userId: string): void {
    if (this.known.size >= this.maxCached) {
      const oldest = this.known.values().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.add(userId);
  }
}
