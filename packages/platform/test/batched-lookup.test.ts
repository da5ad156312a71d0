// BatchedLookup: lookups that wait behind the queries in flight share the next
// query; equal keys are asked once; a failed query fails its own lookups only.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchedLookup } from '../src/storage/batched-lookup.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('BatchedLookup', () => {
  test('a lookup alone goes at once; those waiting behind the queries in flight share the next query', async () => {
    const queries: Array<{ keys: string[]; answer: ReturnType<typeof deferred<Map<string, number>>> }> = [];
    const lookup = new BatchedLookup<string, number>({
      fetch: (keys) => {
        const answer = deferred<Map<string, number>>();
        queries.push({ keys, answer });
        return answer.promise;
      },
      keyOf: (key) => key,
      missing: -1,
      maxInFlight: 1,
    });
    const first = lookup.load('a');
    assert.deepEqual(queries.map((q) => q.keys), [['a']], 'sent at once');
    const waiting = ['b', 'c', 'b', 'zzz'].map((key) => lookup.load(key));
    assert.equal(queries.length, 1, 'nothing more while one query is in flight');
    queries[0]!.answer.resolve(new Map([['a', 1]]));
    assert.equal(await first, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(queries[1]!.keys, ['b', 'c', 'zzz'], 'one query for everything that waited, equal keys once');
    queries[1]!.answer.resolve(new Map([['b', 2], ['c', 3]]));
    assert.deepEqual(await Promise.all(waiting), [2, 3, 2, -1], 'a key the query did not return gets the missing answer');
  });

  test('a failed query rejects its own lookups; the next ones are asked again', async () => {
    let calls = 0;
    const lookup = new BatchedLookup<string, string>({
      fetch: async (keys) => {
        calls += 1;
        if (calls === 1) throw new Error('database unavailable');
        return new Map(keys.map((key) => [key, key.toUpperCase()]));
      },
      keyOf: (key) => key,
      missing: '',
    });
    await assert.rejects(lookup.load('x'), /database unavailable/);
    assert.equal(await lookup.load('y'), 'Y');
  });

  test('batches are capped at maxBatch keys', async () => {
    const sizes: number[] = [];
    const lookup = new BatchedLookup<number, number>({
      fetch: async (keys) => {
        sizes.push(keys.length);
        return new Map(keys.map((key) => [String(key), key * 2]));
      },
      keyOf: String,
      missing: 0,
      maxBatch: 10,
      maxInFlight: 1,
    });
    const answers = await Promise.all(Array.from({ length: 35 }, (_, i) => lookup.load(i)));
    assert.deepEqual(answers, Array.from({ length: 35 }, (_, i) => i * 2));
    assert.ok(sizes.every((size) => size <= 10), `sizes ${sizes}`);
  });
});
