// The composition root of the auth service: opens its schema (running
// migrations), loads or creates its keys, wires the features and serves gRPC
// (AuthService, KeyService, UserDirectoryService) and HTTP (JWKS and ops).
import { adminV1, authV1, internalV1 } from '@im-mesh/contracts';
import {
  AccessTokenVerifier,
  authorizeCalls,
  ConfigError,
  createGrpcServer,
  createServiceRegistry,
  openDatabase,
  optionalAccessToken,
  startServiceHttpServer,
  type EphemeralStore,
  type GrpcServer,
  type Logger,
  type PresenceRegistry,
  type PushBus,
  type RateLimiter,
  type RunningService,
  type ServiceHttpServer,
} from '@im-mesh/platform';
import { PasswordReset } from './accounts/password-reset.js';
import { PhoneRegistration } from './accounts/phone-registration.js';
import { Registration } from './accounts/registration.js';
import { UserDirectory } from './accounts/user-directory.js';
import { AuthMetrics } from './auth-metrics.js';
import type { AuthConfig } from './config.js';
import { jwksHttpHandler } from './keys/jwks-http.js';
import { loadKeyEncryptionKeys } from './keys/key-encryption-keys.js';
import { KeyRing } from './keys/key-ring.js';
import { SecretSealer } from './keys/secret-sealer.js';
import { userAdminService, USER_ADMIN_PERMISSIONS } from './admin/user-admin-service.js';
import { parseServiceAccounts, ServiceAccounts } from './service-accounts/service-accounts.js';
import { serviceTokenService } from './service-accounts/service-token-service.js';
import { RevocationNotifier } from './sessions/revocation-notifier.js';
import { sessionService, sessionStatusService, SESSION_SERVICE_PERMISSIONS } from './sessions/session-service.js';
import { ClientAddressResolver } from './login/client-address.js';
import { LoginChallenge } from './login/login-challenge.js';
import { loginLimitsFrom } from './login/login-limits.js';
import { LoginThrottle } from './login/login-throttle.js';
import { LoginFlow } from './login/login.js';
import { SmsLogin } from './login/sms-login.js';
import { ContactSealing } from './protection/contact-sealing.js';
import { fieldProtectionFrom } from './protection/field-protection.js';
import { SmsCodes } from './sms/sms-codes.js';
import { smsSenderFrom, smsSendLimitsFrom } from './sms/sms-config.js';
import type { SmsFeatures } from './sms/sms-features.js';
import { PasswordHasher } from './passwords/password-hasher.js';
import { authService, keyService, userDirectoryService } from './service.js';
import { Sessions } from './sessions/sessions.js';
import { TokenIssuer } from './sessions/token-issuer.js';
import { AccountStore } from './storage/account-store.js';
import { ContactStore } from './storage/contact-store.js';
import { KeyStore } from './storage/key-store.js';
import { authMigrations } from './storage/migrations/index.js';
import { SessionStore } from './storage/session-store.js';

export interface StartAuthServiceOptions {
  config: AuthConfig;
  logger: Logger;
  /** PostgreSQL URL; auth keeps its tables in the schema "auth". */
  databaseUrl: string;
  /** Where login nonces live (memory in one process, Redis when distributed). Owned by the caller. */
  nonces: EphemeralStore;
  /** Where brute-force and SMS send limits are counted (memory in one process, Redis when distributed). Owned by the caller. */
  rateLimiter: RateLimiter;
  /**
   * Presence and the push bus, to close live connections of ended sessions
   * (logout, revocation, ban). Owned by the caller. Without them (tests of auth
   * alone) connections end when connect's session check or token expiry says so.
   */
  revocations?: { presence: PresenceRegistry; bus: PushBus };
}

/** Argon2 hashes computed at once; each takes ~19 MiB and most of a core for tens of ms. */
const PASSWORD_HASH_CONCURRENCY = 2;
/**
 * Calls that may wait for one of those slots. Past it, Register and Login answer
 * RESOURCE_EXHAUSTED at once: with 2 slots at tens of ms each, the 64th waiter
 * already waits about a second, and a longer line would only grow memory and
 * every caller's latency.
 */
const PASSWORD_HASH_MAX_WAITING = 64;

export async function startAuthService(options: StartAuthServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  const registry = createServiceRegistry('auth');
  const metrics = new AuthMetrics(registry);
  const db = await openDatabase({ url: options.databaseUrl, schema: 'auth', migrations: authMigrations, logger });

  let grpc: GrpcServer | undefined;
  let http: ServiceHttpServer | undefined;
  let accepting = true;
  let keyRing: KeyRing | undefined;
  let smsCodes: SmsCodes | undefined;
  const close = async () => {
    accepting = false;
    keyRing?.close();
    await grpc?.shutdown();
    // Codes already promised to callers are still handed to the provider.
    await smsCodes?.drain();
    await http?.close();
    if (db.isInitialized) await db.destroy();
  };

  try {
    const sealer = new SecretSealer(
      await loadKeyEncryptionKeys({ configured: config.AUTH_KEY_ENCRYPTION_KEYS, file: config.AUTH_KEY_ENCRYPTION_KEY_FILE, logger }),
    );
    const keys = await KeyRing.load(new KeyStore(db), {
      accessTokenTtlSeconds: config.AUTH_ACCESS_TOKEN_TTL_SECONDS,
      loginKeyGraceSeconds: config.AUTH_LOGIN_KEY_GRACE_SECONDS,
      reloadIntervalMs: config.AUTH_KEY_RELOAD_INTERVAL_MS,
      sealer,
      logger,
    });
    keyRing = keys;
    const hasher = new PasswordHasher(PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_MAX_WAITING);
    await hasher.prepare();

    const accounts = new AccountStore(db);
    const challenge = new LoginChallenge({
      keys,
      nonces: options.nonces,
      nonceTtlSeconds: config.AUTH_NONCE_TTL_SECONDS,
      loginWindowMs: config.AUTH_LOGIN_WINDOW_MS,
    });
    const issuer = new TokenIssuer({
      keys,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      accessTokenTtlSeconds: config.AUTH_ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: config.AUTH_REFRESH_TOKEN_TTL_SECONDS,
    });
    const sessions = new Sessions({
      store: new SessionStore(db),
      issuer,
      sealer,
      notifier: new RevocationNotifier(options.revocations, logger.child({ component: 'revocations' })),
      refreshReuseGraceSeconds: config.AUTH_REFRESH_REUSE_GRACE_SECONDS,
      metrics,
      logger,
    });
    const serviceAccounts = new ServiceAccounts(
      parseServiceAccounts(config.AUTH_SERVICE_ACCOUNTS),
      issuer,
      config.AUTH_SERVICE_TOKEN_TTL_SECONDS,
      logger.child({ component: 'service-accounts' }),
    );
    const throttle = new LoginThrottle({ limiter: options.rateLimiter, markers: options.nonces, limits: loginLimitsFrom(config), registry });
    const clientAddress = new ClientAddressResolver(config.AUTH_TRUSTED_PROXIES);
    const registration = new Registration({ accounts, challenge, hasher, throttle, metrics, logger });
    const login = new LoginFlow({ accounts, challenge, hasher, sessions, throttle, metrics, logger });
    // Field keys are checked at every start, even with SMS off, so a typo
    // surfaces before the first number is stored rather than after.
    const protection = fieldProtectionFrom(config);
    const sms = smsFeatures();
    function smsFeatures(): SmsFeatures | undefined {
      const smsLogger = logger.child({ component: 'sms' });
      const sender = smsSenderFrom(config, smsLogger);
      if (!sender) return undefined;
      if (!protection) {
        throw new ConfigError(
          'Invalid configuration:\n  AUTH_FIELD_KEYS: SMS codes need phone numbers, which are stored encrypted; set AUTH_FIELD_KEYS, AUTH_FIELD_KEY_CURRENT and AUTH_BLIND_INDEX_KEY',
        );
      }
      const sealing = new ContactSealing(protection);
      const contacts = new ContactStore(db);
      const codes = new SmsCodes({
        store: options.nonces,
        limiter: options.rateLimiter,
        sender,
        blindIndex: protection.blindIndex,
        codeTtlSeconds: config.AUTH_SMS_CODE_TTL_SECONDS,
        limits: smsSendLimitsFrom(config),
        registry,
        logger: smsLogger,
      });
      smsCodes = codes;
      return {
        codes,
        registration: new PhoneRegistration({ accounts, contacts, sealing, codes, sessions, throttle, logger }),
        login: new SmsLogin({ contacts, sealing, codes, sessions, throttle, logger }),
        passwordReset: new PasswordReset({ accounts, contacts, sealing, codes, challenge, hasher, sessions, throttle, logger }),
      };
    }
    // Auth checks its own tokens (for Logout) with the same verifier every other
    // service uses, fed in-process instead of over KeyService.
    const verifier = new AccessTokenVerifier({
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      source: async () => keys.jwks,
    });

    grpc = createGrpcServer({ logger });
    grpc.addWith(
      // Only Logout needs the caller; the others ignore any token sent along.
      optionalAccessToken(
        verifier,
        new Set([
          'GetLoginKey', 'Register', 'Login', 'RefreshToken',
          'SendSmsCode', 'RegisterWithSmsCode', 'LoginWithSmsCode', 'ResetPasswordWithSmsCode',
        ]),
      ),
      authV1.AuthServiceDefinition,
      authService({ challenge, registration, login, sessions, clientAddress, sms }),
    );
    grpc.addWith(authorizeCalls(verifier, SESSION_SERVICE_PERMISSIONS), authV1.SessionServiceDefinition, sessionService(sessions));
    grpc.addWith(
      authorizeCalls(verifier, USER_ADMIN_PERMISSIONS),
      adminV1.UserAdminServiceDefinition,
      userAdminService({ accounts, hasher, sessions, logger: logger.child({ component: 'admin' }) }),
    );
    grpc.add(adminV1.ServiceTokenServiceDefinition, serviceTokenService(serviceAccounts));
    // Internal contracts answer service accounts only. KeyService stays open: its
    // public keys are what every caller needs before it can check any token.
    grpc.addWith(
      authorizeCalls(verifier, { CheckSession: 'internal.call', CheckSessions: 'internal.call' }),
      internalV1.SessionStatusServiceDefinition,
      sessionStatusService(sessions),
    );
    grpc.add(internalV1.KeyServiceDefinition, keyService(keys));
    grpc.addWith(
      authorizeCalls(verifier, { LookupUsers: 'internal.call', FindUser: 'internal.call' }),
      internalV1.UserDirectoryServiceDefinition,
      userDirectoryService(new UserDirectory(accounts, protection && { contacts: new ContactStore(db), sealing: new ContactSealing(protection) })),
    );
    const grpcPort = await grpc.listen(config.AUTH_HOST, config.AUTH_GRPC_PORT);

    const readiness = [{ name: 'database', check: async () => void (await db.query('SELECT 1')) }];
    http = await startServiceHttpServer(
      config.AUTH_HOST,
      config.AUTH_HTTP_PORT,
      { registries: [registry], readiness, isAccepting: () => accepting },
      [jwksHttpHandler(keys)],
    );

    let stopping: Promise<void> | undefined;
    return {
      name: 'auth',
      grpcAddress: `${config.AUTH_HOST}:${grpcPort}`,
      httpAddress: http.address,
      metrics: registry,
      readiness,
      localCalls: grpc.localCalls,
      stop: () => (stopping ??= close()),
    };
  } catch (error) {
    await close().catch((closeError: unknown) => logger.error({ err: closeError }, 'cleanup after a failed start failed'));
    throw error;
  }
}
