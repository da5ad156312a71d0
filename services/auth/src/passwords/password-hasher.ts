// Password hashing with argon2id (m = 19 MiB, t = 2, p = 1, the OWASP baseline),
// behind a concurrency bound. It also keeps a dummy hash so that a login for an
// unknown user costs the same time as one for a real user with a wrong password.
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

  /** `concurrency`: hashes computed at once; 2 by default. */
  constructor(concurrency = 2) {
    this.limit = new ConcurrencyLimit(concurrency);
  }

  /** A PHC string ("$argon2id$v=19$m=19456,t=2,p=1$..."), with a fresh random salt. */
  hash(password: string): Promise<string> {
    return this.limit.run(() => hash(password, ARGON2_OPTIONS));
  }

  /** True when `password` matches `passwordHash`. A malformed hash counts as a mismatch. */
  verify(passwordHash: string, password: string): Promise<boolean> {
    return this.limit.run(async () => {
      try {
        return await verify(passwordHash, password);
      } catch {
        // A hash that cannot be parsed can never match; treating it as a wrong
        // password keeps the caller's answer uniform.
        return false;
      }
    });
  }

  /** Computes the dummy hash ahead of the first login, so even that one is not faster. */
  async prepare(): Promise<void> {
    await this.dummy();
  }

  /** Spends the time of one verification and always fails: for logins of unknown users. */
  async verifyAgainstDummy(password: string): Promise<false> {
    await this.verify(await this.dummy(), password);
    return false;
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= this.hash(randomBytes(16).toString('base64url'));
    return this.dummyHash;
  }
}
