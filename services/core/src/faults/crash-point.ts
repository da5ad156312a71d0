// Named crash points for the fault-proof tests (tests/faults): with
// IM_CRASH_POINT=<name> (optionally <name>:<n>, the n-th time it is reached) the
// process SIGKILLs itself right there, as a power cut would. Unset in production,
// where each call is one string comparison.
const [crashAt, nth] = (process.env.IM_CRASH_POINT ?? '').split(':');
let remaining = Number(nth ?? '1') || 1;

/** The places core may be asked to die, in delivery-path order. */
export type CrashPointName =
  /** The send transaction committed; no reply sent, the relay not yet woken. */
  | 'after-commit'
  /** Every publish of an outbox batch was confirmed; the rows are not yet deleted. */
  | 'after-confirm';

export function crashPoint(name: CrashPointName): void {
  if (crashAt !== name) return;
  remaining -= 1;
  if (remaining > 0) return;
  process.kill(process.pid, 'SIGKILL');
}
