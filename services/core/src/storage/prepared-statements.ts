// Core's statements run as named prepared statements. PostgreSQL parses and
// plans an unnamed statement on every execution; for the sync query (a dozen
// joins and subqueries) planning took 1.8 ms of the 2 ms it cost, and a
// reconnect storm spent most of PostgreSQL's CPU planning the same few texts
// (bench/RESULTS.md). A named statement is parsed once per connection, and
// after five executions PostgreSQL keeps a generic plan when it costs no more
// than the custom ones (plan_cache_mode = auto), so later calls skip planning.
//
// Names are given per process, one per distinct text: every connection of the
// process prepares a text under the same name, and a name never stands for two
// texts. Core's texts are a fixed set (a few vary by which columns an update
// sets), so the registry stays small; past MAX_PREPARED_TEXTS a text runs
// unnamed, as before, rather than letting a text built from data fill every
// connection's statement cache.
//
// A prepared statement's result columns are fixed when it is prepared: if a
// migration by another instance changes the row type under it (ALTER TABLE on
// a table it reads with *), PostgreSQL refuses it with "cached plan must not
// change result type". That text is then run unnamed from here on: the call
// that met it fails, the next succeeds. The same for "prepared statement does
// not exist" (pg forgets to forget a name when a parameter fails to serialise).
//
// A generic plan cannot use a bound that a parameter may switch off
// (`$4 = 0 OR seq < $4`): texts whose paging bounds are optional come in one
// variant per case instead (message-store.ts pull, message-search-store.ts).

/** Names given per process; texts met after that run unnamed. */
export const MAX_PREPARED_TEXTS = 500;

/** Each text's statement name; undefined for a text whose prepared form went stale, which runs unnamed from then on. */
const names = new Map<string, string | undefined>();
/** Names handed out so far; never reused, even for a text dropped as stale (a connection may still hold it). */
let given = 0;

/** The statement name for `text`, or undefined to run it unnamed. */
export function statementName(text: string): string | undefined {
  const known = names.get(text);
  if (known !== undefined || names.has(text) || given >= MAX_PREPARED_TEXTS) return known;
  given += 1;
  const name = `core_${given}`;
  names.set(text, name);
  return name;
}

/** Called with the error of a named statement: stops naming its text if its prepared form is unusable. */
export function noteStatementError(text: string, error: unknown): void {
  const e = error as { code?: string; routine?: string; message?: string };
  // SQLSTATE 0A000 is feature_not_supported; from RevalidateCachedQuery it is the
  // stale row type (the routine name, unlike the message, is never translated).
  const stalePlan = e?.code === '0A000' && (e.routine === 'RevalidateCachedQuery' || /cached plan must not change result type/.test(e.message ?? ''));
  // 26000 invalid_sql_statement_name: pg believes the connection has it, the server does not.
  const missing = e?.code === '26000';
  if (stalePlan || missing) names.set(text, undefined);
}
