// Where the upstream services are. Today the addresses are static (config or the
// all-in-one); registry-driven discovery replaces `staticUpstreams` with a lookup
// over healthy instances, and nothing else in the edge changes.

/** "host:port" of each upstream the edge talks to. */
export interface Upstreams {
  auth: string;
  core: string;
  connect: string;
  /** The connect node's HTTP address, where the WebSocket endpoint /ws lives. */
  connectWs: string;
}

export type UpstreamName = keyof Upstreams;

/** Picks the address to use for the next call to `name`. */
export type UpstreamLookup = (name: UpstreamName) => string;

export function staticUpstreams(upstreams: Upstreams): UpstreamLookup {
  const fixed = { ...upstreams };
  return (name) => fixed[name];
}
