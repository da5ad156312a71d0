// Clients of auth's session and admin services for the tests, on their own
// channel to the running auth service.
import { adminV1, authV1 } from '@im-mesh/contracts';
import { createServiceClient, openChannel } from '@im-mesh/platform';
import type { RunningAuth } from './auth-harness.js';

export function sessionClient(running: RunningAuth) {
  const channel = openChannel(running.service.grpcAddress);
  return { client: createServiceClient(authV1.SessionServiceDefinition, channel.channel), close: () => channel.close() };
}

export function adminClients(running: RunningAuth) {
  const channel = openChannel(running.service.grpcAddress);
  return {
    tokens: createServiceClient(adminV1.ServiceTokenServiceDefinition, channel.channel),
    users: createServiceClient(adminV1.UserAdminServiceDefinition, channel.channel),
    close: () => channel.close(),
  };
}
