import { createHash } from 'node:crypto';

/** First 4 bytes of sha256(text) as an unsigned 32-bit integer: synchronous and deterministic. */
function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/**
 * A 53-bit non-cryptographic hash (cyrb53): ~50× cheaper than a SHA-256 through node:crypto, which
 * matters on the check-in path where every update answer needs a spread offset and a plan id.
 * Nothing here needs to resist an adversary: a client can pick its own id anyway.
 */
export function hash53(text: string, seed = 0): number {
  return hash53Parts([text], seed);
}

/**
 * `hash53` of several strings as if joined by `\n` (`hash53Parts([a])` is `hash53(a)`), without
 * building the joined string: on the check-in path, building it cost more than hashing it.
 */
export function hash53Parts(parts: readonly string[], seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let p = 0; p < parts.length; p++) {
    if (p > 0) {
      h1 = Math.imul(h1 ^ 10, 2654435761);
      h2 = Math.imul(h2 ^ 10, 1597334677);
    }
    const text = parts[p]!;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * A client's rollout bucket (0-99) for one target release. Hashing the target in as well keeps
 * membership sticky within a rollout and redraws it for the next one (CodePush's rule), so the
 * same clients are not always first. Stays on SHA-256: changing the hash would move clients in
 * and out of a rollout in progress when the server is upgraded. Only partial rollouts compute it.
 */
export function rolloutBucket(clientId: string, releaseId: string): number {
  return hash32(clientId + releaseId) % 100;
}

/** A deterministic delay in [0, spreadMs) for a client's downloads of one release. */
export function spreadOffset(clientId: string, releaseId: string, spreadMs: number): number {
  if (spreadMs <= 0) return 0;
  return Math.floor((hash53(`spread:${clientId}:${releaseId}`) / 2 ** 53) * spreadMs);
}

/** Same inputs, same plan id: a client retrying a check-in in the same millisecond gets the same plan. */
export function planIdFor(clientId: string, to: string, issuedAt: number): string {
  // The hash of `${clientId}\n${to}\n${issuedAt}` in 14 hex digits, twice; hashed part by part and
  // written digit by digit, as toString(16) of a 53-bit number took longer than the hash.
  const parts = [clientId, to, String(issuedAt)];
  return hex14(hash53Parts(parts)) + hex14(hash53Parts(parts, 0x9e3779b9));
}

const HEX = '0123456789abcdef';
/** A number below 2^56 as 14 hex digits, zero-padded: `n.toString(16).padStart(14, '0')`. */
function hex14(n: number): string {
  let lo = n >>> 0;
  let hi = Math.floor(n / 4294967296);
  let out = '';
  for (let i = 0; i < 8; i++, lo >>>= 4) out = HEX[lo & 15]! + out;
  for (let i = 0; i < 6; i++, hi >>>= 4) out = HEX[hi & 15]! + out;
  return out;
}
