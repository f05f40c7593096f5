import { describe, expect, it } from 'vitest';
import { listenHost, listensEverywhere, listenUrl } from './listen-url.js';

describe('listenUrl', () => {
  // [--host, what server.address() says, the URL]: the addresses are those Node binds for each host.
  it.each([
    ['127.0.0.1', '127.0.0.1', 'http://127.0.0.1:8787/'],
    ['localhost', '127.0.0.1', 'http://localhost:8787/'],
    ['updates.lan', '192.168.1.5', 'http://updates.lan:8787/'],
    // Every interface: a host to listen on, not one to connect to.
    ['0.0.0.0', '0.0.0.0', 'http://127.0.0.1:8787/'],
    ['0', '0.0.0.0', 'http://127.0.0.1:8787/'],
    ['::', '::', 'http://[::1]:8787/'],
    ['0:0:0:0:0:0:0:0', '::', 'http://[::1]:8787/'],
    // IPv6 literals go in brackets, written as the socket has them.
    ['::1', '::1', 'http://[::1]:8787/'],
    ['0:0:0:0:0:0:0:1', '::1', 'http://[::1]:8787/'],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1', 'http://[::ffff:127.0.0.1]:8787/'],
    ['2001:db8::7', '2001:db8::7', 'http://[2001:db8::7]:8787/'],
  ])('--host %s bound to %s: %s', (host, address, url) => {
    const family = address.includes(':') ? 'IPv6' : 'IPv4';
    expect(listenUrl(host, { address, family, port: 8787 })).toBe(url);
    // Always a URL a client can parse back to the same host and port.
    expect(new URL(url).port).toBe('8787');
  });

  it('listensEverywhere: only the unspecified addresses', () => {
    expect([listensEverywhere('0.0.0.0'), listensEverywhere('::')]).toEqual([true, true]);
    expect([listensEverywhere('127.0.0.1'), listensEverywhere('::1'), listensEverywhere('192.168.1.5')]).toEqual([false, false, false]);
  });

  it.each([
    ['[::1]', '::1'],
    ['[::]', '::'],
    ['[2001:db8::7]', '2001:db8::7'],
    // Not an IPv6 literal inside: kept, so it fails as a name (`names no address`), not as another host.
    ['[127.0.0.1]', '[127.0.0.1]'],
    ['[localhost]', '[localhost]'],
    ['::1', '::1'],
    ['localhost', 'localhost'],
  ])('listenHost(%s) is %s', (host, address) => {
    expect(listenHost(host)).toBe(address);
  });
});
