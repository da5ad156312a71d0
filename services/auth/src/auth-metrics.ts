// Prometheus counters of the auth service. Outcomes are a closed set of labels,
// so a flood of bad logins cannot grow the number of series.
import { Counter, type Registry } from 'prom-client';

export type LoginOutcome = 'success' | 'unknown_user' | 'wrong_password' | 'disabled_user' | 'rejected_secret';
export type RegistrationOutcome = 'created' | 'username_taken' | 'rejected_secret';
export type RefreshOutcome = 'rotated' | 'replayed' | 'reused' | 'banned' | 'rejected';

export class AuthMetrics {
  private readonly logins: Counter<'outcome'>;
  private readonly registrations: Counter<'outcome'>;
  private readonly refreshes: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.logins = new Counter({
      name: 'auth_login_attempts_total',
      help: 'Login attempts by outcome (rejected_secret: bad ciphertext, nonce or timestamp).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.registrations = new Counter({
      name: 'auth_registrations_total',
      help: 'Registration attempts that got past field validation, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.refreshes = new Counter({
      name: 'auth_token_refreshes_total',
      help: 'Refresh-token exchanges by outcome (replayed: a rotated token came back within the grace window and got the same pair; reused: it came back later and its session was revoked).',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }

  login(outcome: LoginOutcome): void {
    this.logins.inc({ outcome });
  }

  registration(outcome: RegistrationOutcome): void {
    this.registrations.inc({ outcome });
  }

  refresh(outcome: RefreshOutcome): void {
    this.refreshes.inc({ outcome });
  }
}
