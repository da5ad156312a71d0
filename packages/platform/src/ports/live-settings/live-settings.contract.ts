// The contract of live-settings.ts as a test suite every adapter runs. `open`
// gives the source and the operator's side of it: a way to write and remove a
// setting (Consul: `kv put` and `kv delete`; memory: set and remove).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { sleep, waitFor, withAdapter } from '../contract-support.js';
import { liveSetting, type LiveSettingsSource, type SettingsSnapshot } from './live-settings.js';

export interface LiveSettingsUnderTest {
  source: LiveSettingsSource;
  write(name: string, value: unknown): Promise<void>;
  remove(name: string): Promise<void>;
  /** Writes text that is not JSON, where the adapter can hold such a thing. */
  writeRaw?(name: string, text: string): Promise<void>;
  close(): Promise<void>;
}

const limitSchema = z.object({ refillPerSecond: z.number().positive(), capacity: z.number().int().positive() }).partial();
type Limit = { refillPerSecond: number; capacity: number };
const FALLBACK: Limit = { refillPerSecond: 100, capacity: 200 };
const merge = (fallback: Limit, override: Partial<Limit>): Limit => ({ ...fallback, ...override });

export function describeLiveSettingsContract(name: string, open: () => Promise<LiveSettingsUnderTest>): void {
  describe(`LiveSettings contract: ${name}`, () => {
    test('a written setting reaches subscribers, and a removed one disappears', withAdapter(open, async (adapter) => {
      const seen: SettingsSnapshot[] = [];
      const stop = adapter.source.subscribe((settings) => seen.push(settings));
      try {
        await adapter.write('send-rate', { perMinute: 60 });
        await waitFor('the new setting', () => JSON.stringify(adapter.source.current()['send-rate']) === '{"perMinute":60}');
        assert.deepEqual(seen.at(-1)?.['send-rate'], { perMinute: 60 });
        await adapter.remove('send-rate');
        await waitFor('the setting removed', () => !Object.hasOwn(adapter.source.current(), 'send-rate'));
        assert.equal(Object.hasOwn(seen.at(-1) ?? {}, 'send-rate'), false);
      } finally {
        stop();
      }
    }));

    test('liveSetting: starts at the fallback, merges an override, returns to the fallback on removal', withAdapter(open, async (adapter) => {
      const limit = liveSetting(adapter.source, 'edge-limit', limitSchema, FALLBACK, { merge });
      const changes: Limit[] = [];
      limit.onChange((value) => changes.push(value));
      try {
        assert.deepEqual(limit.get(), FALLBACK);
        await adapter.write('edge-limit', { refillPerSecond: 5 });
        await waitFor('the override in force', () => limit.get().refillPerSecond === 5);
        assert.deepEqual(limit.get(), { refillPerSecond: 5, capacity: 200 }, 'the fields not overridden keep the fallback');
        await adapter.remove('edge-limit');
        await waitFor('back to the fallback', () => limit.get().refillPerSecond === 100);
        assert.deepEqual(changes, [{ refillPerSecond: 5, capacity: 200 }, FALLBACK]);
      } finally {
        limit.stop();
      }
    }));

    test('liveSetting: an invalid value keeps the last good one in force', withAdapter(open, async (adapter) => {
      const limit = liveSetting(adapter.source, 'user-limit', limitSchema, FALLBACK, { merge });
      try {
        await adapter.write('user-limit', { capacity: 7 });
        await waitFor('the good value', () => limit.get().capacity === 7);
        await adapter.write('user-limit', { capacity: -1 });
        await adapter.write('other', true);
        // The write after the bad one has arrived, so the bad one was seen and refused.
        await waitFor('the later write', () => adapter.source.current()['other'] === true);
        assert.equal(limit.get().capacity, 7, 'a negative capacity was refused');
        if (adapter.writeRaw) {
          await adapter.writeRaw('user-limit', '{capacity: 9');
          await sleep(100);
          assert.equal(limit.get().capacity, 7, 'text that is not JSON was refused');
        }
      } finally {
        limit.stop();
      }
    }));

    test('an unsubscribed listener hears nothing more', withAdapter(open, async (adapter) => {
      let calls = 0;
      const stop = adapter.source.subscribe(() => {
        calls += 1;
      });
      await adapter.write('a', 1);
      await waitFor('the first change', () => calls >= 1);
      stop();
      const before = calls;
      await adapter.write('a', 2);
      await waitFor('the second change', () => adapter.source.current()['a'] === 2);
      await sleep(50);
      assert.equal(calls, before);
    }));
  });
}
