// Standalone entry point of the auth service. Needs DATABASE_URL; nonces live in
// the store LIMITS selects (set LIMITS=redis when several auth instances share
// one address, so a nonce issued by one is burnt for all).
import { runStandalone } from '@im-mesh/platform';
import { loadAuthConfig, startAuthService } from './index.js';

await runStandalone({
  service: 'auth',
  loadConfig: loadAuthConfig,
  needs: { database: true, ephemeral: true },
  start: ({ config, logger, infrastructure, databaseUrl }) =>
    startAuthService({ config, logger, databaseUrl, nonces: infrastructure.ephemeral }),
});
