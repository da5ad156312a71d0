// EphemeralStore: short-lived single-use values such as login nonces and SMS codes.
//
// Contract (every adapter passes ephemeral-store.contract.ts):
// - `put` stores a value for `ttlSeconds`, replacing any earlier value of the key.
// - `putIfAbsent` stores only when the key holds nothing live; false otherwise.
// - `take` returns the value and deletes it in one atomic step: of any number of
//   concurrent takes of one key, exactly one gets the value. Expired values are
//   never returned.
// - `get` returns the live value and leaves it in place (for markers such as
//   "this address logged in to this account before"; never for single-use values).
// - `takeIfEqual` deletes the key only when it holds exactly `expected`, in one
//   atomic step, and says whether it did: of concurrent calls with the right
//   value exactly one gets true; a wrong value leaves the key untouched (a wrong
//   SMS code guess must not burn the right code, a right one burns it).
// - `increment` adds 1 to a counter that expires `ttlSeconds` after its first
//   increment and returns the new count (attempt caps).

export interface EphemeralStore {
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  putIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  take(key: string): Promise<string | undefined>;
  get(key: string): Promise<string | undefined>;
  takeIfEqual(key: string, expected: string): Promise<boolean>;
  increment(key: string, ttlSeconds: number): Promise<number>;
  close(): Promise<void>;
}
