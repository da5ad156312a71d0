// Fault scenarios at core's named crash points (IM_CRASH_POINT, see
// services/core/src/faults/crash-point.ts): core-1, which takes half the sends
// (the edge spreads them over both cores) and relays its share of the outbox,
// kills itself with SIGKILL at the n-th time it reaches the point, mid-storm, and
// is then started again without it.
// - after-commit: the message is durable but its sender got no answer and the
//   relay was not woken. The SDK (or the harness) retries with the same
//   client_msg_id and gets the original back from core-2; core-2's relay pushes it.
// - after-confirm: the broker confirmed a batch of pushes but the outbox rows
//   were not marked sent. They are published again (by core-2, or core-1 after its
//   restart), so devices receive duplicates they must drop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryReport } from './support/history-checker.js';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep, until } from './support/storm.js';

async function crashMidStorm(label: string, point: string, nth: number): Promise<HistoryReport> {
  return runFaultScenario({ label, firstCoreEnv: { 0: { IM_CRASH_POINT: `${point}:${nth}` } } }, async ({ system, fleet, history }) => {
    const doomed = system.cores[0]!;
    const storm = runStorm(history, ringSenders(fleet), { durationMs: 10_000, intervalMs: 150 });
    const crashedAfterMs = await until(
      `core-1 to kill itself at crash point ${point} (${nth}th time); is crashPoint('${point}') called in core?`,
      () => doomed.child.signalCode === 'SIGKILL',
      12_000,
    );
    history.mark('fault');
    console.log(`[fault-history] ${label}: core-1 died at ${point} ${crashedAfterMs} ms into the storm`);
    system.balanceCores();
    await sleep(2_000);
    await system.restartCore(0);
    history.mark('healed');
    await storm;
  });
}

test('core crashes right after committing a send, before answering: the retried send gets the original, every acked send arrives once', async () => {
  const report = await crashMidStorm('crash_after_commit', 'after-commit', 80);
  assert.ok(report.answeredAsDuplicate > 0, 'the send whose answer died with core-1 was retried and answered with the stored original');
});

test('core crashes after the broker confirmed pushes, before marking the outbox rows: the republished copies show once', async () => {
  await crashMidStorm('crash_after_confirm', 'after-confirm', 50);
});
