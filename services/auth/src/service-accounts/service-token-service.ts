// im.admin.v1.ServiceTokenService: the client-credentials exchange. Public in the
// sense that it takes no token: the client id and secret are the credentials.
import type { adminV1 } from '@im-mesh/contracts';
import type { ServiceAccounts } from './service-accounts.js';

export function serviceTokenService(accounts: ServiceAccounts): adminV1.ServiceTokenServiceImplementation {
  return {
    async issueServiceToken(request) {
      return accounts.issueToken(request.clientId, request.clientSecret);
    },
  };
}
