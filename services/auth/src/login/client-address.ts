// The address of the person behind a call, for per-address limits. The gRPC
// peer is the last hop; when that hop is a trusted proxy (the edge appends the
// address it saw to X-Forwarded-For, and Envoy does the same), the header is
// read from the right, skipping trusted proxies, and the first untrusted
// address is the client. Entries left of it were written by the client and are
// never believed, so a client cannot pick its own address by sending the header.
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '@im-mesh/platform';
import type { CallContext } from 'nice-grpc-common';

export class ClientAddressResolver {
  private readonly trusted = new BlockList();

  /**
   * `trustedProxies`: comma-separated CIDRs ("10.0.0.0/8, ::1/128"), or "none"
   * when auth is reached directly. Throws ConfigError for a bad one.
   */
  constructor(trustedProxies: string) {
    const list = trustedProxies.trim() === 'none' ? '' : trustedProxies;
    for (const cidr of list.split(',').map((part) => part.trim()).filter(Boolean)) {
      const [address = '', prefixText] = cidr.split('/');
      const family = isIP(address);
      const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
      if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
        throw new ConfigError(`Invalid configuration:\n  AUTH_TRUSTED_PROXIES: "${cidr}" is not a CIDR such as 10.0.0.0/8 or ::1/128`);
      }
      this.trusted.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
  }

  /** The client's address for `context`; "unknown" when the peer cannot be parsed. */
  of(context: Pick<CallContext, 'peer' | 'metadata'>): string {
    let current = peerAddress(context.peer);
    if (current === undefined) return 'unknown';
    const hops = context.metadata
      .getAll('x-forwarded-for')
      .flatMap((value) => String(value).split(','))
      .map((hop) => unmapIpv4(hop.trim()))
      .filter((hop) => hop !== '');
    while (this.isTrusted(current)) {
      const next = hops.pop();
      if (next === undefined || isIP(next) === 0) break;
      current = next;
    }
    return current;
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** "ipv4:127.0.0.1:5000" or "ipv6:[::1]:5000" (grpc-js) or a bare address -> the address. */
function peerAddress(peer: string): string | undefined {
  let rest = peer.replace(/^ipv[46]:/, '');
  if (rest.startsWith('[')) rest = rest.slice(1, rest.indexOf(']'));
  else if (isIP(rest) === 0) rest = rest.slice(0, rest.lastIndexOf(':'));
  rest = unmapIpv4(rest);
  return isIP(rest) === 0 ? undefined : rest;
}

/** One client, one key: "::ffff:10.1.2.3" is 10.1.2.3. */
function unmapIpv4(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
