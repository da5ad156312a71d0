// docker-compose.yml against the services' configuration: every key a service is
// given must be one the service reads (a typo would be ignored silently and leave a
// default in force), and every literal value must pass the service's own
// validation. No Docker engine runs here; this reads the file as compose would,
// merge keys and all.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { infrastructureConfigShape, loadConfig } from '@im-mesh/platform';
import { parse } from 'yaml';
import { authConfigShape } from '../../services/auth/src/config.js';
import { connectConfigShape } from '../../services/connect/src/config.js';
import { coreConfigShape } from '../../services/core/src/config.js';

type Shape = Record<string, unknown>;

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true, maxAliasCount: -1 }) as {
  services: Record<string, { command?: string[]; environment?: Record<string, string | number | boolean> }>;
};

/** What each standalone service reads: its own keys, the infrastructure selection, and DATABASE_URL where it has a database. */
const SERVICES: Record<string, { shape: Shape; entry: string }> = {
  auth: { shape: { ...authConfigShape, ...infrastructureConfigShape, DATABASE_URL: true }, entry: 'services/auth/src/main.ts' },
  core: { shape: { ...coreConfigShape, ...infrastructureConfigShape, DATABASE_URL: true }, entry: 'services/core/src/main.ts' },
  connect: { shape: { ...connectConfigShape, ...infrastructureConfigShape }, entry: 'services/connect/src/main.ts' },
};

describe('docker-compose.yml against the services’ configuration (no Docker engine here: the file is read, not run)', () => {
  for (const [name, { shape, entry }] of Object.entries(SERVICES)) {
    test(`${name}: runs its entry point, reads every key it is given, and accepts every literal value`, () => {
      const service = compose.services[name];
      assert.ok(service, `docker-compose.yml has no ${name} service`);
      assert.ok(service.command?.includes(entry), `${name} should run ${entry}`);
      const environment = service.environment ?? {};
      const unknown = Object.keys(environment).filter((key) => !Object.hasOwn(shape, key));
      assert.deepEqual(unknown, [], `${name} does not read these keys`);
      // Values with ${...} come from .env at `docker compose up`; the rest are checked here.
      const literal = Object.fromEntries(
        Object.entries(environment)
          .filter(([key, value]) => !String(value).includes('${') && key !== 'DATABASE_URL')
          .map(([key, value]) => [key, String(value)]),
      );
      const literalShape = Object.fromEntries(Object.keys(literal).map((key) => [key, shape[key]])) as Parameters<typeof loadConfig>[0];
      assert.doesNotThrow(() => loadConfig(literalShape, literal));
    });
  }

  test('the shared infrastructure is the distributed one, and connect nodes get no fixed node id (replicas must differ)', () => {
    for (const name of Object.keys(SERVICES)) {
      const environment = compose.services[name]!.environment!;
      assert.equal(environment['PRESENCE'], 'redis', name);
      assert.equal(environment['BUS'], 'rabbitmq', name);
      assert.equal(environment['REGISTRY'], 'consul', name);
    }
    assert.equal(compose.services['connect']!.environment!['CONNECT_NODE_ID'], undefined);
  });
});
