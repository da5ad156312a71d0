// `npm run bench [-- <scenario...|all>] [--mode embedded|split|both] [--size real|tiny]
//   [--duration <seconds>] [--out <dir>] [--cpu-prof <dir>] [--allocation-prof <file>] [--cores N] [--connect-nodes N] [--clients N]`
//
// --clients sets the connection count of connections and reconnect-storm (the
// issue's 15,000 and 10,000 by default): every client is a device that logs in
// first, one argon2id verification each, which a busy machine does slowly.
//
// Starts the system (see harness/system-under-test.ts), runs the scenarios one
// after another against it with load clients in separate processes, prints
// progress, and writes each scenario's JSON, Markdown and PNG charts to
// bench/results/ (or --out). Every scenario is bounded in time and stops by itself.
import { resolve } from 'node:path';
import { machineFacts, writeResult } from './harness/report.js';
import type { Scenario, ScenarioContext, Size } from './harness/scenario.js';
import { startSystem, type SystemMode } from './harness/system-under-test.js';
import { SCENARIOS } from './scenarios/index.js';

export interface BenchOptions {
  scenarios: string[];
  modes: SystemMode[];
  size: Size;
  durationMs: number | undefined;
  outDir: string;
  cpuProfileDir: string | undefined;
  allocationProfileFile: string | undefined;
  cores: number | undefined;
  connectNodes: number | undefined;
  clients: number | undefined;
  rates: number[] | undefined;
}

const USAGE = `usage: npm run bench -- [${Object.keys(SCENARIOS).join('|')}|all ...] [--mode embedded|split|both] [--size real|tiny] [--duration <seconds>] [--out <dir>] [--cpu-prof <dir>] [--allocation-prof <file>] [--cores N] [--connect-nodes N] [--clients N] [--rates N,N...]`;

export function parseArguments(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    scenarios: [],
    modes: ['embedded'],
    size: 'real',
    durationMs: undefined,
    outDir: resolve(import.meta.dirname, 'results'),
    cpuProfileDir: undefined,
    allocationProfileFile: undefined,
    cores: undefined,
    connectNodes: undefined,
    clients: undefined,
    rates: undefined,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const argument = argv[i]!;
    const value = (): string => {
      const next = argv[i + 1];
      if (next === undefined) throw new Error(`${argument} needs a value.\n${USAGE}`);
      i += 1;
      return next;
    };
    const count = (): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${argument} must be a whole number of at least 1.\n${USAGE}`);
      return n;
    };
    switch (argument) {
      case '--mode': {
        const mode = value();
        if (mode !== 'embedded' && mode !== 'split' && mode !== 'both') throw new Error(`--mode must be embedded, split or both, not "${mode}".\n${USAGE}`);
        options.modes = mode === 'both' ? ['embedded', 'split'] : [mode];
        break;
      }
      case '--size': {
        const size = value();
        if (size !== 'real' && size !== 'tiny') throw new Error(`--size must be real or tiny, not "${size}".\n${USAGE}`);
        options.size = size;
        break;
      }
      case '--duration': {
        const seconds = Number(value());
        if (!(seconds > 0 && seconds <= 600)) throw new Error(`--duration is in seconds, more than 0 and at most 600.\n${USAGE}`);
        options.durationMs = seconds * 1000;
        break;
      }
      case '--out':
        options.outDir = resolve(value());
        break;
      case '--cpu-prof':
        options.cpuProfileDir = resolve(value());
        break;
      case '--allocation-prof':
        options.allocationProfileFile = resolve(value());
        break;
      case '--cores':
        options.cores = count();
        break;
      case '--connect-nodes':
        options.connectNodes = count();
        break;
      case '--clients':
        options.clients = count();
        break;
      case '--rates': {
        const rates = value().split(',').map(Number);
        if (rates.some((rate) => !(Number.isInteger(rate) && rate > 0 && rate <= 100_000))) {
          throw new Error(`--rates is a comma list of offered msg/s, each 1 to 100000.\n${USAGE}`);
        }
        options.rates = rates;
        break;
      }
      default:
        if (argument.startsWith('-')) throw new Error(`Unknown option ${argument}.\n${USAGE}`);
        if (argument !== 'all' && !(argument in SCENARIOS)) throw new Error(`Unknown scenario "${argument}".\n${USAGE}`);
        options.scenarios.push(argument);
    }
  }
  if (options.scenarios.length === 0 || options.scenarios.includes('all')) options.scenarios = Object.keys(SCENARIOS);
  return options;
}

/** Runs the benchmark; resolves with the JSON files written. */
export async function runBench(options: BenchOptions): Promise<string[]> {
  const written: string[] = [];
  const interactive = process.stdout.isTTY === true;
  const progress = (line: string) => {
    if (interactive) process.stdout.write(`\r\x1b[K${line}`);
    else process.stdout.write(`${line}\n`);
  };
  const log = (line: string) => process.stdout.write(`${interactive ? '\r\x1b[K' : ''}${line}\n`);
  for (const mode of options.modes) {
    log(`starting the system (${mode} mode)`);
    const system = await startSystem({ mode, cores: options.cores, connectNodes: options.connectNodes, cpuProfileDir: options.cpuProfileDir, allocationProfileFile: options.allocationProfileFile });
    // Ctrl-C stops the system too (load workers exit when their IPC channel closes).
    const interrupted = () => {
      log('interrupted: stopping the system');
      void system.stop().finally(() => process.exit(130));
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    if (system.logFile !== undefined) log(`  server log: ${system.logFile}`);
    try {
      for (const name of options.scenarios) {
        const scenario: Scenario = SCENARIOS[name]!;
        const context: ScenarioContext = { system, size: options.size, durationMs: options.durationMs, clients: options.clients, rates: options.rates, progress, log };
        const startedAt = new Date();
        log(`${name} (${mode}, ${options.size}):`);
        const result = await scenario(context);
        const failure = system.failure();
        // A result measured against a dead system is not a result.
        if (failure !== undefined) throw new Error(`${name}: ${failure}`);
        const files = await writeResult(options.outDir, result, machineFacts(), startedAt);
        written.push(files.json);
        const figures = Object.entries(result.metrics)
          .map(([key, value]) => `${key}=${value}`)
          .join(' ');
        log(`  done: ${figures}`);
        log(`  loss: lost=${result.loss.lost} duplicated=${result.loss.duplicated} reordered=${result.loss.reordered} unexpected=${result.loss.unexpected}`);
        log(`  wrote ${files.markdown}`);
      }
    } finally {
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      log(`stopping the system (${mode} mode)`);
      await system.stop();
    }
  }
  return written;
}

if (import.meta.filename === process.argv[1] || process.argv[1]?.endsWith('bench/run.ts')) {
  try {
    await runBench(parseArguments(process.argv.slice(2)));
    process.exit(0);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}
