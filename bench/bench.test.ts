// Keeps the benchmark harness working (issue 6): every scenario runs once at
// tiny size (seconds each) against the embedded all-in-one, and its result file
// must carry the fields a reader and RESULTS.md rely on, with nothing lost,
// duplicated or reordered. Speed is never asserted: this is not a benchmark.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResult } from './harness/report.js';
import { parseArguments, runBench } from './run.js';
import { SCENARIOS } from './scenarios/index.js';

// Six scenarios with their logins take 2-4 minutes on a busy 2-core machine, close to the runner's 5-minute default.
test('every bench scenario runs at tiny size on the embedded system and writes a complete result with zero loss', { timeout: 600_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'im-bench-test-'));
  try {
    const files = await runBench(parseArguments(['all', '--size', 'tiny', '--mode', 'embedded', '--out', out]));
    assert.equal(files.length, Object.keys(SCENARIOS).length, 'one result file per scenario');
    for (const file of files) {
      const result = readResult(file);
      const name = `${result.scenario} (${file})`;
      assert.ok(Object.keys(SCENARIOS).includes(result.scenario), name);
      assert.equal(result.mode, 'embedded', name);
      assert.equal(result.size, 'tiny', name);
      assert.ok(result.machine.cpus > 0 && result.machine.node.startsWith('v'), `${name}: machine facts`);
      assert.ok(Object.keys(result.metrics).length > 0, `${name}: metrics`);
      for (const value of Object.values(result.metrics)) assert.ok(Number.isFinite(value), `${name}: every metric is a number`);
      assert.deepEqual(
        { lost: result.loss.lost, duplicated: result.loss.duplicated, reordered: result.loss.reordered, unexpected: result.loss.unexpected },
        { lost: 0, duplicated: 0, reordered: 0, unexpected: 0 },
        `${name}: loss check`,
      );
      assert.equal(result.loss.received, result.loss.expected, `${name}: every expected delivery arrived`);
      assert.ok(existsSync(file.replace(/\.json$/, '.md')), `${name}: Markdown summary`);
      if (result.series.length > 0) {
        assert.ok(result.loss.expected > 0, `${name}: messages flowed`);
        for (const chart of ['latency', 'throughput', 'histogram']) assert.ok(existsSync(file.replace(/\.json$/, `-${chart}.png`)), `${name}: ${chart} chart`);
      }
    }
    const storm = readResult(files.find((file) => file.includes('reconnect-storm'))!);
    assert.equal(storm.metrics.notSynced, 0, 'every storm client caught up');
    assert.ok(storm.metrics.pulled! > 0, 'the storm clients pulled what they missed');
    assert.ok(
      storm.metrics.halfSynced_s! > 0 && storm.metrics.halfSynced_s! <= storm.metrics.synced99_s! && storm.metrics.synced99_s! <= storm.metrics.allSynced_s!,
      `the storm's spread is in order: ${JSON.stringify(storm.metrics)}`,
    );
    const connections = readResult(files.find((file) => file.includes('-connections-'))!);
    assert.equal(connections.metrics.heldAtEnd, connections.parameters.connections, 'every connection was still open after the hold');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the bench command line rejects a bad option with a message naming it', () => {
  assert.throws(() => parseArguments(['--mode', 'cluster']), /--mode must be embedded, split or both/);
  assert.throws(() => parseArguments(['no-such-scenario']), /Unknown scenario "no-such-scenario"/);
  assert.throws(() => parseArguments(['--duration', '0']), /--duration is in seconds/);
  assert.deepEqual(parseArguments(['latency-1to1', '--mode', 'both']).modes, ['embedded', 'split']);
});
