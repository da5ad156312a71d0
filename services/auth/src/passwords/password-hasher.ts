// Password hashing with argon2id (m = 19 MiB, t = 2, p = 1, the OWASP baseline),
// behind a concurrency bound. It also keeps a dummy hash so that a login for an
// unknown user costs the same time as one for a real user with a wrong password.
// Every method takes the call's AbortSignal: work still waiting for a slot when
// its call is abandoned is skipped.
import { randomBytes } from 'node:crypto';
import { hash, verify, type Algorithm, type Options } from '@node-rs/argon2';
import { ConcurrencyLimit } from './concurrency-limit.js';

// Algorithm is an ambient const enum, which isolatedModules cannot read; 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

export const ARGON2_OPTIONS: Options = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

export class PasswordHasher {
  private readonly limit: ConcurrencyLimit;
  private dummyHash: Promise<string> | undefined;

  /**
   * `concurrency`: hashes computed at once; 2 by default. `maxWaiting`: calls
   * that may wait for a slot; beyond it they are refused with RESOURCE_EXHAUSTED.
   */
  constructor(concurrency = 2, maxWaiting = 64) {
    this.limit = new ConcurrencyLimit(concurrency, maxWaiting);
  }

  /** A PHC string ("$argon2id$v=19$m=19456,t=2,p=1$..."), with a fresh random salt. */
  hash(password: string, signal?: AbortSignal): Promise<string> {
    return this.limit.run(() => hash(password, ARGON2_OPTIONS), signal);
  }

  /** True when `password` matches `passwordHash`. A malformed hash counts as a mismatch. */
  verify(passwordHash: string, password: string, signal?: AbortSignal): Promise<boolean> {
    return this.limit.run(async () => {
      try {
        return await verify(passwordHash, password);
      } catch {
        // A hash that cannot be parsed can never match; treating it as a wrong
        // password keeps the caller's answer uniform.
        return false;
      }
    }, signal);
  }

  /** Computes the dummy hash ahead of the first login, so even that one is not faster. */
  async prepare(): Promise<void> {
    await this.dummy();
  }

  /** Spends the time of one verification and always fails: for logins of unknown users. */
  async verifyAgainstDummy(password: string, signal?: AbortSignal): Promise<false> {
    await this.verify(await this.dummy(), password, signal);
    return false;
  }

  private dummy(): Promise<string> {
    // Not tied to any one call's signal: it is shared. If it failed (the line was
    // full), the next caller tries again rather than inheriting the failure.
    this.dummyHash ??= this.hash(randomBytes(16).toString('base64url')).catch((error: unknown) => {
      this.dummyHash = undefined;
      throw error;
    });
    return this.dummyHash;
  }
}
