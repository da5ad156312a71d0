// Many concurrent lookups of one kind (is this session live?) answered by a few
// queries instead of one each: lookups wait while `maxInFlight` batches run,
// and those that waited go together in the next one. At low load a lookup is a
// batch of one, sent at once; under a burst (ten thousand clients reconnecting)
// the queries, and the pool connections they hold, stay few.
export interface BatchedLookupOptions<K, V> {
  /** Answers every key given, in one query; a key missing from the map gets `missing`. */
  fetch: (keys: K[]) => Promise<Map<string, V>>;
  /** The identity of a key; equal keys in one batch are asked once. */
  keyOf: (key: K) => string;
  /** The answer for a key `fetch` did not return. */
  missing: V;
  /** Most keys per query. 500 by default. */
  maxBatch?: number;
  /** Queries in flight at once. 2 by default. */
  maxInFlight?: number;
}

interface Waiting<K, V> {
  key: K;
  resolve: (value: V) => void;
  reject: (error: unknown) => void;
}

export class BatchedLookup<K, V> {
  private readonly waiting: Array<Waiting<K, V>> = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly options: BatchedLookupOptions<K, V>) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.waiting.push({ key, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.next();
      });
    }
  }

  private async run(batch: Array<Waiting<K, V>>): Promise<void> {
    const distinct = new Map<string, K>();
    for (const { key } of batch) distinct.set(this.options.keyOf(key), key);
    let answers: Map<string, V>;
    try {
      answers = await this.options.fetch([...distinct.values()]);
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    for (const waiting of batch) waiting.resolve(answers.get(this.options.keyOf(waiting.key)) ?? this.options.missing);
  }
}
