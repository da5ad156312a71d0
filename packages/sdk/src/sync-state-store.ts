// SyncStateStore: where the client keeps, per conversation, the seq of the last
// message it applied. The in-memory default lives as long as the client; an app
// that wants "exactly once" across restarts plugs in a persistent one (IndexedDB,
// a file, SQLite) with the same two methods.

/** Per-conversation "last applied seq" watermarks, owned by one client device. */
export interface SyncStateStore {
  /**
   * Every saved watermark as `[conversationId, lastAppliedSeq]` pairs. Called once,
   * before the first sync of a client; conversations left out start at 0.
   */
  load(): Iterable<readonly [string, number]> | Promise<Iterable<readonly [string, number]>>;
  /**
   * Records that every message of the conversation up to and including `seq` was
   * handed to the app. Calls for one conversation come with increasing seqs, but an
   * asynchronous store may complete them out of order: keep the maximum.
   */
  save(conversationId: string, seq: number): void | Promise<void>;
}

/** The default store: a map that lives as long as the process or page. */
export class MemorySyncStateStore implements SyncStateStore {
  private readonly lastApplied = new Map<string, number>();

  constructor(initial: Iterable<readonly [string, number]> = []) {
    for (const [conversationId, seq] of initial) this.save(conversationId, seq);
  }

  load(): Iterable<readonly [string, number]> {
    return [...this.lastApplied];
  }

  save(conversationId: string, seq: number): void {
    if (seq > (this.lastApplied.get(conversationId) ?? 0)) this.lastApplied.set(conversationId, seq);
  }

  /** The saved watermark of one conversation, 0 when none. */
  get(conversationId: string): number {
    return this.lastApplied.get(conversationId) ?? 0;
  }
}
