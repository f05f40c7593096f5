import { isIP, type AddressInfo } from 'node:net';

/** Whether a server bound to `address` (as `server.address()` says it) listens on every interface. */
export const listensEverywhere = (address: string): boolean => address === '0.0.0.0' || address === '::';

/**
 * The URL to open a server listening on `host` from this machine. An unspecified address
 * (`0.0.0.0`, `::`, or a spelling of one: `0`, `::0`) is where to listen, not a host to connect to:
 * the loopback of its family instead. An IP literal is written as the socket bound it
 * (`0:0:0:0:0:0:0:1` is `::1`), an IPv6 one in brackets (RFC 3986 §3.2.2); a name stays as given,
 * as people type it.
 */
export function listenUrl(host: string, bound: AddressInfo): string {
  const name = bound.address === '0.0.0.0' ? '127.0.0.1' : bound.address === '::' ? '::1' : isIP(host) ? bound.address : host;
  return `http://${isIP(name) === 6 ? `[${name}]` : name}:${bound.port}/`;
}

/**
 * The address to listen on for `host` as people write it: an IPv6 literal in brackets (`[::1]`, as
 * in a URL) without them. Node hands `[::1]` to getaddrinfo as a name, which knows none ("names no
 * address"). Anything else is kept as given.
 */
export function listenHost(host: string): string {
  const inner = /^\[(.*)\]$/.exec(host)?.[1];
  return inner !== undefined && isIP(inner) === 6 ? inner : host;
}
