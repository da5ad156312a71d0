// The all-in-one's internal service account: core and connect call each other's
// and auth's internal methods (im.internal.v1) with service tokens, as separate
// processes do. Made afresh at every start, since only this process uses it.
import { randomBytes } from 'node:crypto';

export interface EmbeddedServiceAccount {
  /** The AUTH_SERVICE_ACCOUNTS entry, "client-id:service:secret". */
  entry: string;
  /** What core and connect are given. */
  credentials: { SERVICE_CLIENT_ID: string; SERVICE_CLIENT_SECRET: string };
}

export function embeddedServiceAccount(): EmbeddedServiceAccount {
  const clientId = 'all-in-one-internal';
  const secret = randomBytes(32).toString('base64url');
  return { entry: `${clientId}:service:${secret}`, credentials: { SERVICE_CLIENT_ID: clientId, SERVICE_CLIENT_SECRET: secret } };
}
