// Creates the users and logged-in devices a scenario needs, through the edge
// with the real SDK (@im-mesh/sdk AuthClient: GetLoginKey, RSA-OAEP secret,
// Register, Login), so the load clients hold ordinary access tokens. This is
// setup, never measured: each Register and Login costs one argon2id hash on the
// server (about 10-50 ms of CPU), so 10,000 devices take a minute or two.
import { AuthClient } from '@im-mesh/sdk';
import { openNativeGrpcChannel } from '@im-mesh/sdk/node';
import { randomBytes } from 'node:crypto';

export interface BenchDevice {
  readonly userId: string;
  readonly deviceId: string;
  readonly accessToken: string;
}

export interface BenchUser {
  readonly userId: string;
  readonly username: string;
  readonly devices: BenchDevice[];
}

/**
 * Auth hashes two passwords at a time and queues 64 more; more calls in flight
 * than that would be refused (RESOURCE_EXHAUSTED), fewer would leave it idle.
 */
const SETUP_CONCURRENCY = 24;

/**
 * Registers `users` users named `<label>-<run>-<i>` and logs in `devicesPerUser`
 * devices of each. `onProgress` gets the number of logins done so far.
 */
export async function createUsers(
  edgeUrl: string,
  label: string,
  users: number,
  devicesPerUser: number,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<BenchUser[]> {
  const channel = openNativeGrpcChannel(edgeUrl);
  const run = randomBytes(3).toString('hex');
  const password = `bench-${randomBytes(8).toString('hex')}`;
  try {
    const auth = new AuthClient({ channel, callTimeoutMs: 120_000 });
    const names = Array.from({ length: users }, (_, i) => `${label}-${run}-${i}`);
    const userIds = await mapLimited(names, SETUP_CONCURRENCY, (name) => auth.register(name, password, `${name}-setup`));
    const logins = names.flatMap((name, u) => Array.from({ length: devicesPerUser }, (_, d) => ({ name, u, deviceId: `${name}-d${d}` })));
    let done = 0;
    const devices = await mapLimited(logins, SETUP_CONCURRENCY, async (login) => {
      // One AuthClient per device: it keeps that device's session.
      const device = new AuthClient({ channel, callTimeoutMs: 120_000 });
      const session = await device.login(login.name, password, login.deviceId, 'bench');
      done += 1;
      if (done % 100 === 0 || done === logins.length) onProgress(done, logins.length);
      return { u: login.u, device: { userId: session.userId, deviceId: login.deviceId, accessToken: session.tokens.accessToken } };
    });
    return names.map((username, u) => ({
      username,
      userId: userIds[u]!,
      devices: devices.filter((entry) => entry.u === u).map((entry) => entry.device),
    }));
  } finally {
    channel.close();
  }
}

/** Runs `work` over `items` with at most `limit` at once; results keep the input order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
