// Writes a run's results: `bench/results/<date>-<scenario>[-<mode>].json`, the
// same as Markdown, and the PNG charts, with the machine facts of the run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { writeCharts } from './charts.js';
import { met, type ScenarioResult } from './scenario.js';

export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** Load average (1, 5, 15 min) when the scenario ended: other people share this machine. */
  loadAverage: number[];
  commit: string;
}

export function machineFacts(): MachineFacts {
  // BENCH_COMMIT names the commit when the measured tree is an exported copy without .git.
  let commit = process.env.BENCH_COMMIT ?? 'unknown';
  if (commit === 'unknown') {
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      // Not a git checkout (a copied tree): the commit stays unknown.
    }
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    commit,
  };
}

export interface WrittenResult {
  json: string;
  markdown: string;
  charts: string[];
}

export async function writeResult(directory: string, result: ScenarioResult, facts: MachineFacts, startedAt: Date): Promise<WrittenResult> {
  mkdirSync(directory, { recursive: true });
  const date = startedAt.toISOString().slice(0, 10);
  const base = join(directory, `${date}-${result.scenario}-${result.mode}${result.size === 'tiny' ? '-tiny' : ''}`);
  const json = `${base}.json`;
  writeFileSync(json, `${JSON.stringify({ ...result, machine: facts, startedAt: startedAt.toISOString() }, null, 2)}\n`);
  const charts = await writeCharts(result, base);
  const markdown = `${base}.md`;
  writeFileSync(markdown, summary(result, facts, startedAt, charts));
  return { json, markdown, charts };
}

function summary(result: ScenarioResult, facts: MachineFacts, startedAt: Date, charts: string[]): string {
  const lines = [
    `# ${result.scenario} (${result.mode} mode, ${result.size} size)`,
    '',
    `Run ${startedAt.toISOString()} at commit ${facts.commit} on ${facts.cpus} x ${facts.cpuModel}, ${facts.memoryGiB} GiB, Node ${facts.node}; load average at the end ${facts.loadAverage.join(' / ')} (a shared machine).`,
    '',
    '| parameter | value |',
    '|---|---|',
    ...Object.entries(result.parameters).map(([key, value]) => `| ${key} | ${value} |`),
    '',
    '| metric | value |',
    '|---|---|',
    ...Object.entries(result.metrics).map(([key, value]) => `| ${key} | ${value} |`),
    '',
  ];
  if (result.targets.length > 0) {
    lines.push('| target | measured | target | goal |', '|---|---|---|---|');
    for (const check of result.targets) {
      const sign = check.higherIsBetter ? '≥' : '≤';
      lines.push(
        `| ${check.what} | ${check.measured} ${check.unit} | ${sign} ${check.target} ${met(check, 'target') ? 'met' : 'missed'} | ${sign} ${check.goal} ${met(check, 'goal') ? 'met' : 'missed'} |`,
      );
    }
    lines.push('');
  }
  const loss = result.loss;
  lines.push(
    `Loss check: expected ${loss.expected}, received ${loss.received}, lost ${loss.lost}, duplicated ${loss.duplicated}, reordered ${loss.reordered}, unexpected ${loss.unexpected}.`,
    '',
  );
  for (const note of result.notes) lines.push(`- ${note}`);
  if (result.notes.length > 0) lines.push('');
  for (const chart of charts) lines.push(`![${basename(chart)}](${basename(chart)})`);
  return `${lines.join('\n')}\n`;
}

/** Reads a result file back (the tests check its fields). */
export function readResult(file: string): ScenarioResult & { machine: MachineFacts } {
  return JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult & { machine: MachineFacts };
}
