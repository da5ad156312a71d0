// Judges a recorded History (history.ts) against the delivery promise: every
// acked send shown on every recipient device, none twice, per conversation in
// seq order, nothing that was never sent. It also measures send->show latency,
// the longest stretch without a successful send, and how long after the fault
// was healed everything sent before it was visible everywhere.
import assert from 'node:assert/strict';
import { finalOutcome, type History, type SendRecord, type ShownMessage } from './history.js';

export interface HistoryReport {
  label: string;
  /** Logical messages (distinct sender + client_msg_id). */
  sends: number;
  acked: number;
  refused: number;
  unknown: number;
  /** Logical messages sent more than once with the same client_msg_id. */
  resent: number;
  /** Answers that said "already stored" (a retry, by the SDK or the harness, of a send that had landed). */
  answeredAsDuplicate: number;
  shown: number;
  /** Acked messages missing on at least one recipient device at the end. */
  lost: number;
  /** (acked message, recipient device) pairs missing at the end. */
  missingDeliveries: number;
  /** Messages with an attempt of unknown outcome that landed anyway. */
  recovered: number;
  /** Shown but never sent, shown though refused, or stored twice under two message ids. */
  unexpected: number;
  /** Shown twice on one device (same message id, or the same send under two ids). */
  duplicated: number;
  /** Shown on a device after a message of the same conversation with an equal or higher seq. */
  reordered: number;
  latencyP50Ms: number | undefined;
  latencyP99Ms: number | undefined;
  /** Longest time between two successful send answers (or from the first send to the first answer). */
  longestAckGapMs: number | undefined;
  /** From the 'healed' mark to when every send acked and begun before it was shown everywhere. */
  recoverMs: number | undefined;
  /** Why attempts failed or ended unknown: reason -> attempts, most common first (top 5). */
  attemptErrors: Array<[string, number]>;
  /** Up to 10 concrete problems, for the failure message. */
  examples: string[];
}

export function checkHistory(history: History): HistoryReport {
  const examples: string[] = [];
  const note = (text: string): void => {
    if (examples.length < 10) examples.push(text);
  };
  const records = [...history.sends.values()];
  const byKey = new Map(records.map((record) => [record.key, record]));

  // First show of each (device, message id); duplicates counted on the way.
  const firstShow = new Map<string, ShownMessage>();
  let duplicated = 0;
  let reordered = 0;
  const lastSeq = new Map<string, number>();
  const idsOfSend = new Map<string, Set<string>>();
  for (const shown of history.shown) {
    const showKey = `${shown.device}|${shown.messageId}`;
    if (firstShow.has(showKey)) {
      duplicated += 1;
      note(`${shown.device} showed message ${shown.messageId} (seq ${shown.seq}) again`);
    } else {
      firstShow.set(showKey, shown);
    }
    const conversationKey = `${shown.device}|${shown.conversationId}`;
    const previous = lastSeq.get(conversationKey) ?? 0;
    if (shown.seq <= previous) {
      reordered += 1;
      note(`${shown.device} showed seq ${shown.seq} after seq ${previous} in conversation ${shown.conversationId}`);
    }
    lastSeq.set(conversationKey, Math.max(previous, shown.seq));
    const sendKey = `${shown.device}|${shown.senderId}/${shown.clientMsgId}`;
    const ids = idsOfSend.get(sendKey) ?? new Set<string>();
    ids.add(shown.messageId);
    idsOfSend.set(sendKey, ids);
  }
  for (const [sendKey, ids] of idsOfSend) {
    if (ids.size < 2) continue;
    duplicated += ids.size - 1;
    note(`${sendKey.split('|')[0]} showed one send under ${ids.size} message ids`);
  }

  // Every show must belong to a send that was not refused, under its acked id.
  let unexpected = 0;
  const landed = new Set<string>();
  for (const shown of firstShow.values()) {
    const record = byKey.get(`${shown.senderId}/${shown.clientMsgId}`);
    const outcome = record ? finalOutcome(record) : undefined;
    if (record) landed.add(record.key);
    if (!record || !outcome) {
      unexpected += 1;
      note(`${shown.device} showed message ${shown.messageId} that nobody sent`);
    } else if (outcome.kind === 'failed') {
      unexpected += 1;
      note(`${shown.device} showed ${record.key}, whose every send was refused (${outcome.code})`);
    } else if (outcome.kind === 'ok' && outcome.messageId !== shown.messageId) {
      unexpected += 1;
      note(`${shown.device} showed ${record.key} as ${shown.messageId}, acked as ${outcome.messageId}`);
    }
  }
  for (const record of records) {
    const ids = new Set(record.attempts.flatMap((attempt) => (attempt.outcome.kind === 'ok' ? [attempt.outcome.messageId] : [])));
    if (ids.size > 1) {
      unexpected += ids.size - 1;
      note(`${record.key} was acked with ${ids.size} different message ids`);
    }
  }

  // Every acked send on every recipient device; latency and recovery from the same pairs.
  let lost = 0;
  let missingDeliveries = 0;
  let recovered = 0;
  const latencies: number[] = [];
  const healedAt = history.marks.get('healed');
  let lastNeededShow: number | undefined = healedAt === undefined ? undefined : healedAt;
  let recoveryComplete = true;
  for (const record of records) {
    if (record.attempts.some((attempt) => attempt.outcome.kind === 'unknown') && landed.has(record.key)) recovered += 1;
    const outcome = finalOutcome(record);
    if (outcome.kind !== 'ok') continue;
    let missing = 0;
    for (const device of history.recipientDevices(record)) {
      const shown = firstShow.get(`${device}|${outcome.messageId}`);
      if (!shown) {
        missing += 1;
        note(`${device} never showed ${record.text} (acked as seq ${outcome.seq} of ${outcome.conversationId})`);
        continue;
      }
      latencies.push(shown.shownAt - record.startedAt);
      if (healedAt !== undefined && record.startedAt <= healedAt) lastNeededShow = Math.max(lastNeededShow ?? 0, shown.shownAt);
    }
    if (missing > 0) {
      lost += 1;
      missingDeliveries += missing;
      if (healedAt !== undefined && record.startedAt <= healedAt) recoveryComplete = false;
    }
  }

  const finals = records.map(finalOutcome);
  const errorCounts = new Map<string, number>();
  for (const attempt of records.flatMap((record) => record.attempts)) {
    const outcome = attempt.outcome;
    const reason = outcome.kind === 'unknown' ? `unknown: ${outcome.reason}` : outcome.kind === 'failed' ? `failed: ${outcome.code} ${outcome.detail}` : undefined;
    if (reason !== undefined) errorCounts.set(reason.slice(0, 160), (errorCounts.get(reason.slice(0, 160)) ?? 0) + 1);
  }
  return {
    label: history.label,
    sends: records.length,
    acked: finals.filter((outcome) => outcome.kind === 'ok').length,
    refused: finals.filter((outcome) => outcome.kind === 'failed').length,
    unknown: finals.filter((outcome) => outcome.kind === 'unknown' || outcome.kind === 'pending').length,
    resent: records.filter((record) => record.attempts.length > 1).length,
    answeredAsDuplicate: records
      .flatMap((record) => record.attempts)
      .filter((attempt) => attempt.outcome.kind === 'ok' && attempt.outcome.duplicate).length,
    shown: history.shown.length,
    lost,
    missingDeliveries,
    recovered,
    unexpected,
    duplicated,
    reordered,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    longestAckGapMs: longestAckGap(records),
    recoverMs: healedAt !== undefined && recoveryComplete && lastNeededShow !== undefined ? Math.max(0, lastNeededShow - healedAt) : undefined,
    attemptErrors: [...errorCounts].sort((a, b) => b[1] - a[1]).slice(0, 5),
    examples,
  };
}

/** One line of counters plus the examples, for the test output. */
export function formatReport(report: HistoryReport): string {
  const ms = (value: number | undefined): string => (value === undefined ? 'n/a' : `${Math.round(value)}ms`);
  const line =
    `[fault-history] ${report.label}: sends=${report.sends} acked=${report.acked} refused=${report.refused} unknown=${report.unknown} ` +
    `resent=${report.resent} answered-as-duplicate=${report.answeredAsDuplicate} shown=${report.shown} | lost=${report.lost} (missing deliveries=${report.missingDeliveries}) ` +
    `recovered=${report.recovered} unexpected=${report.unexpected} duplicated=${report.duplicated} reordered=${report.reordered} | ` +
    `latency p50=${ms(report.latencyP50Ms)} p99=${ms(report.latencyP99Ms)} longest ack gap=${ms(report.longestAckGapMs)} ` +
    `time to recover=${ms(report.recoverMs)}`;
  const errors = report.attemptErrors.map(([reason, count]) => `${count} attempts: ${reason}`);
  const details = [...errors, ...report.examples];
  return details.length === 0 ? line : `${line}\n  ${details.join('\n  ')}`;
}

/** Prints the report and fails on any lost, duplicated, reordered or unexpected message. */
export function assertDeliveryPromiseKept(report: HistoryReport): void {
  console.log(formatReport(report));
  const broken = (['lost', 'duplicated', 'reordered', 'unexpected'] as const).filter((counter) => report[counter] !== 0);
  assert.deepEqual(broken, [], `the delivery promise was broken:\n${formatReport(report)}`);
}

function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function longestAckGap(records: readonly SendRecord[]): number | undefined {
  const starts = records.map((record) => record.startedAt);
  const answers = records
    .flatMap((record) => record.attempts.flatMap((attempt) => (attempt.outcome.kind === 'ok' ? [attempt.outcome.answeredAt] : [])))
    .sort((a, b) => a - b);
  if (answers.length === 0 || starts.length === 0) return undefined;
  let gap = answers[0]! - Math.min(...starts);
  for (let i = 1; i < answers.length; i += 1) gap = Math.max(gap, answers[i]! - answers[i - 1]!);
  return gap;
}
