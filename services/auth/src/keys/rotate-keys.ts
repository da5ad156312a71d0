// Operator command: rotates one of auth's RSA keys without logging anyone out.
//
//   DATABASE_URL=postgres://... AUTH_KEY_ENCRYPTION_KEYS=... \
//     node --import tsx services/auth/src/keys/rotate-keys.ts signing|login
//
// Use the same AUTH_KEY_ENCRYPTION_KEYS (or AUTH_KEY_ENCRYPTION_KEY_FILE) as the
// auth service. "signing": new tokens get the new kid; the old key stays in the
// JWKS for the access-token lifetime (plus two reload periods), so tokens it
// signed keep verifying. "login": GetLoginKey hands out the new key; secrets
// encrypted to the old one are accepted for AUTH_LOGIN_KEY_GRACE_SECONDS.
// To rotate the key-encryption key itself, put the new KEK first in
// AUTH_KEY_ENCRYPTION_KEYS and keep the old one second: the next start (or this
// command) re-seals every key under the new one; then the old one can go.
// Exit status: 0 rotated; 1 failed (no key rotated); 2 bad usage.
import { createLogger } from '@im-mesh/platform';
import { loadAuthConfig } from '../config.js';
import { rotateAuthKey } from './key-rotation.js';

const USAGE = 'usage: DATABASE_URL=postgres://... node --import tsx services/auth/src/keys/rotate-keys.ts signing|login';

async function run(args: string[]): Promise<number> {
  const purpose = args[0];
  if (args.length !== 1 || (purpose !== 'signing' && purpose !== 'login')) {
    console.error(USAGE);
    return 2;
  }
  const config = loadAuthConfig();
  if (!config.DATABASE_URL) {
    console.error(`DATABASE_URL is not set: it must name auth's database.\n${USAGE}`);
    return 2;
  }
  const logger = createLogger({ service: 'auth-rotate-keys', level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr });
  const kid = await rotateAuthKey(config, config.DATABASE_URL, purpose, logger);
  console.log(`rotated the ${purpose} key; the new kid is ${kid}`);
  return 0;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  console.error(`rotation failed, no key was rotated: ${(error as Error).message}`);
  process.exitCode = 1;
}
