// Standalone entry point of the auth service. Needs DATABASE_URL; nonces, SMS
// codes and login limits live in the stores LIMITS selects (set LIMITS=redis
// when several auth instances share one address, so a nonce issued by one is
// burnt for all and an attacker cannot multiply the limits by the instances).
import { runStandalone } from '@im-mesh/platform';
import { loadAuthConfig, startAuthService } from './index.js';

await runStandalone({
  service: 'auth',
  loadConfig: loadAuthConfig,
  // Presence and the bus: logout, revocation and bans close live connections (PRESENCE, BUS).
  needs: { database: true, ephemeral: true, rateLimiter: true, presence: true, bus: true },
  start: ({ config, logger, infrastructure, databaseUrl }) =>
    startAuthService({
      config,
      logger,
      databaseUrl,
      nonces: infrastructure.ephemeral,
      rateLimiter: infrastructure.rateLimiter,
      revocations: { presence: infrastructure.presence, bus: infrastructure.bus },
    }),
});
