// Which address a call counts against: the gRPC peer, or, behind trusted
// proxies only, the first untrusted hop of X-Forwarded-For read from the right.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '@im-mesh/platform';
import { Metadata } from 'nice-grpc-common';
import { ClientAddressResolver } from '../src/login/client-address.js';

const call = (peer: string, forwardedFor?: string) => ({
  peer,
  metadata: forwardedFor === undefined ? Metadata() : Metadata({ 'x-forwarded-for': forwardedFor }),
});

describe('client address', () => {
  const resolver = new ClientAddressResolver('127.0.0.0/8,::1/128,10.0.0.0/8');

  test('a direct, untrusted caller is its own peer address, whatever header it sends', () => {
    assert.equal(resolver.of(call('ipv4:203.0.113.7:51000')), '203.0.113.7');
    assert.equal(resolver.of(call('ipv4:203.0.113.7:51000', '1.2.3.4')), '203.0.113.7', 'a spoofed header is ignored');
    assert.equal(resolver.of(call('ipv6:[2001:db8::1]:443')), '2001:db8::1');
    assert.equal(resolver.of(call('ipv6:[::ffff:198.51.100.4]:443')), '198.51.100.4');
  });

  test('behind the edge (loopback), the address the edge appended is the client', () => {
    assert.equal(resolver.of(call('ipv4:127.0.0.1:40000', '198.51.100.20')), '198.51.100.20');
    assert.equal(resolver.of(call('ipv6:[::1]:40000', '198.51.100.20')), '198.51.100.20');
  });

  test('entries the client wrote left of the proxies are not believed', () => {
    // The client sent "X-Forwarded-For: 1.1.1.1"; the edge appended what it saw.
    assert.equal(resolver.of(call('ipv4:127.0.0.1:40000', '1.1.1.1, 198.51.100.20')), '198.51.100.20');
  });

  test('a chain of trusted proxies is walked through to the first untrusted hop', () => {
    assert.equal(resolver.of(call('ipv4:127.0.0.1:40000', '1.1.1.1, 198.51.100.20, 10.1.2.3')), '198.51.100.20');
    assert.equal(resolver.of(call('ipv4:127.0.0.1:40000', '10.9.9.9, 10.1.2.3')), '10.9.9.9', 'all trusted: the leftmost seen');
  });

  test('a garbled header does not let the caller pick an address', () => {
    assert.equal(resolver.of(call('ipv4:127.0.0.1:40000', 'not-an-ip')), '127.0.0.1');
    assert.equal(resolver.of(call('ipv4:127.0.0.1:40000', '')), '127.0.0.1');
    assert.equal(resolver.of(call('unix:/tmp/socket')), 'unknown');
  });

  test('with no trusted proxies, the header is never read', () => {
    assert.equal(new ClientAddressResolver('none').of(call('ipv4:127.0.0.1:40000', '198.51.100.20')), '127.0.0.1');
    assert.equal(new ClientAddressResolver('').of(call('ipv4:127.0.0.1:40000', '198.51.100.20')), '127.0.0.1');
  });

  test('a bad CIDR fails configuration naming the setting', () => {
    assert.throws(() => new ClientAddressResolver('10.0.0.0/33'), (error: Error) => error instanceof ConfigError && /AUTH_TRUSTED_PROXIES/.test(error.message));
    assert.throws(() => new ClientAddressResolver('edge.internal'), ConfigError);
  });
});
