// Fault scenario: PostgreSQL stopped in the middle of a send storm, as the cores
// see it, without touching the shared server: the cores' DATABASE_URL points at
// a FaultProxy (auth dials PostgreSQL directly). For 8 s the proxy resets every
// connection and refuses new ones, as a stopped server would, then accepts again
// as a restarted one. Core answers UNAVAILABLE ("cannot reach its database"),
// which the SDK retries with the same client_msg_id; sends whose outcome stays
// unknown are retried once more by the harness. No acked send may be lost,
// duplicated or reordered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { finalOutcome } from './support/history.js';
import { runFaultScenario } from './support/scenario.js';
import { ringSenders, runStorm, sleep } from './support/storm.js';

test('PostgreSQL stopped for 8 s under a send storm: sends fail retryably, and afterwards every acked send arrives once and in order', async () => {
  await runFaultScenario({ label: 'postgres_stopped', coreDatabaseProxy: true, convergeWithinMs: 45_000 }, async ({ system, fleet, history }) => {
    const proxy = system.coreDatabaseProxy!;
    const storm = runStorm(history, ringSenders(fleet), { durationMs: 16_000, intervalMs: 200 });
    await sleep(3_000);
    assert.ok(proxy.connectionCount > 0, 'the cores hold PostgreSQL connections through the proxy');
    const beforeFault = proxy.accepted;
    history.mark('fault');
    proxy.refuse();
    proxy.resetAll();
    await sleep(8_000);
    const refusedDials = proxy.accepted - beforeFault;
    proxy.heal();
    history.mark('healed');
    await storm;
    // Evidence the outage hit sends: an attempt ended without an answer (the SDK
    // gave up on UNAVAILABLE), or a send took longer than the SDK's first attempt
    // (it was retried inside the SDK), or it began during the outage.
    const fault = history.marks.get('fault')!;
    const healed = history.marks.get('healed')!;
    const records = [...history.sends.values()];
    const unknownAttempts = records.filter((record) => record.attempts.some((attempt) => attempt.outcome.kind === 'unknown'));
    const refused = records.filter((record) => finalOutcome(record).kind === 'failed');
    const slowAcks = records.filter((record) => {
      const outcome = finalOutcome(record);
      return outcome.kind === 'ok' && record.startedAt < healed && outcome.answeredAt > fault && outcome.answeredAt - record.startedAt > 1_000;
    });
    console.log(
      `[fault-history] postgres_stopped: sends with an unanswered attempt (UNAVAILABLE after the SDK's retries) ${unknownAttempts.length}, ` +
        `refused ${refused.length}, acked after waiting out part of the outage (retried in the SDK) ${slowAcks.length}, ` +
        `connections to PostgreSQL refused during the outage ${refusedDials}, live through the proxy at the end ${proxy.connectionCount}`,
    );
    for (const record of unknownAttempts.slice(0, 3)) {
      const unknown = record.attempts.find((attempt) => attempt.outcome.kind === 'unknown')!.outcome;
      console.log(`[fault-history] postgres_stopped: e.g. ${record.key}: ${unknown.kind === 'unknown' ? unknown.reason : ''}`);
    }
    assert.ok(unknownAttempts.length + slowAcks.length > 0, 'some sends hit the outage (answered UNAVAILABLE or retried)');
    assert.ok(proxy.connectionCount > 0, 'the cores reconnected to PostgreSQL after it came back');
  });
});
