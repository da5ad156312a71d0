// loadConfig: what an operator sees when configuration is wrong, and how the
// optional IM_CONFIG_FILE combines with the environment.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, env, loadConfig } from '@im-mesh/platform';

const shape = {
  EDGE_PORT: env.port(9191),
  EDGE_HOST: env.host('127.0.0.1'),
  LOG_LEVEL: env.logLevel(),
  CORS_ORIGINS: env.list([]),
  RATE_LIMIT_ENABLED: env.bool(true),
  DATABASE_URL: env.optionalString(),
};

const dirs: string[] = [];
async function configFile(contents: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'im-config-'));
  dirs.push(dir);
  const path = join(dir, 'im.json');
  await writeFile(path, contents);
  return path;
}
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('the configuration was accepted');
}

describe('loadConfig', () => {
  test('defaults apply when nothing is set, and unset empty values count as unset', () => {
    const config = loadConfig(shape, { EDGE_PORT: '' });
    assert.deepEqual(config, { EDGE_PORT: 9191, EDGE_HOST: '127.0.0.1', LOG_LEVEL: 'info', CORS_ORIGINS: [], RATE_LIMIT_ENABLED: true });
  });

  test('values are converted to their types', () => {
    const config = loadConfig(shape, { EDGE_PORT: '0', CORS_ORIGINS: 'https://a.example, https://b.example', RATE_LIMIT_ENABLED: 'no' });
    assert.equal(config.EDGE_PORT, 0);
    assert.deepEqual(config.CORS_ORIGINS, ['https://a.example', 'https://b.example']);
    assert.equal(config.RATE_LIMIT_ENABLED, false);
  });

  test('a bad value fails with the key and the value given', () => {
    const error = configErrorOf(() => loadConfig(shape, { EDGE_PORT: '70000' }));
    assert.match(error.message, /EDGE_PORT: must be a port 0-65535 \(got "70000"\)/);
  });

  test('every bad key is listed, not only the first', () => {
    const error = configErrorOf(() => loadConfig(shape, { EDGE_PORT: 'nine', LOG_LEVEL: 'loud', RATE_LIMIT_ENABLED: 'maybe' }));
    assert.match(error.message, /EDGE_PORT: .*\(got "nine"\)/);
    assert.match(error.message, /LOG_LEVEL: must be a pino level .*\(got "loud"\)/);
    assert.match(error.message, /RATE_LIMIT_ENABLED: must be true or false \(got "maybe"\)/);
  });

  test('a missing required key is named', () => {
    const error = configErrorOf(() => loadConfig({ JWT_PRIVATE_KEY_FILE: env.optionalString().unwrap() }, {}));
    assert.match(error.message, /JWT_PRIVATE_KEY_FILE/);
  });

  test('IM_CONFIG_FILE supplies values, JSON numbers and booleans included; the environment wins', async () => {
    const path = await configFile(JSON.stringify({ EDGE_PORT: 9300, EDGE_HOST: '0.0.0.0', RATE_LIMIT_ENABLED: false, LOG_LEVEL: 'warn' }));
    const config = loadConfig(shape, { IM_CONFIG_FILE: path, LOG_LEVEL: 'debug', EDGE_HOST: '' });
    assert.equal(config.EDGE_PORT, 9300);
    assert.equal(config.RATE_LIMIT_ENABLED, false);
    assert.equal(config.LOG_LEVEL, 'debug', 'the environment overrides the file');
    assert.equal(config.EDGE_HOST, '0.0.0.0', 'an empty environment value does not hide the file');
  });

  test('a bad value from the file is reported like one from the environment', async () => {
    const path = await configFile(JSON.stringify({ EDGE_PORT: -1 }));
    const error = configErrorOf(() => loadConfig(shape, { IM_CONFIG_FILE: path }));
    assert.match(error.message, /EDGE_PORT: must be a port 0-65535 \(got "-1"\)/);
  });

  test('an unreadable or malformed file fails naming IM_CONFIG_FILE and the path', async () => {
    const broken = await configFile('{ "EDGE_PORT": 9191,');
    assert.match(configErrorOf(() => loadConfig(shape, { IM_CONFIG_FILE: broken })).message, new RegExp(`IM_CONFIG_FILE: cannot read ${broken}`));
    const list = await configFile('[1, 2]');
    assert.match(configErrorOf(() => loadConfig(shape, { IM_CONFIG_FILE: list })).message, /IM_CONFIG_FILE: .* must hold a JSON object/);
    const missing = join(tmpdir(), 'no-such-dir', 'im.json');
    assert.match(configErrorOf(() => loadConfig(shape, { IM_CONFIG_FILE: missing })).message, /IM_CONFIG_FILE: cannot read/);
  });
});
