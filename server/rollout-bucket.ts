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
  // `hash53Parts([clientId, to, String(issuedAt)])` with seeds 0 and 0x9e3779b9, in 14 hex digits
  // each (rollout-bucket.test.ts holds it to that spelling). Both hashes in one pass, written as
  // bytes and read back as one string: half the time of two passes and 28 one-digit strings, and
  // every plan answer carries an id.
  const parts = [clientId, to, String(issuedAt)];
  let a1 = 0xdeadbeef;
  let a2 = 0x41c6ce57;
  let b1 = 0xdeadbeef ^ 0x9e3779b9;
  let b2 = 0x41c6ce57 ^ 0x9e3779b9;
  for (let p = 0; p < parts.length; p++) {
    if (p > 0) {
      a1 = Math.imul(a1 ^ 10, 2654435761);
      a2 = Math.imul(a2 ^ 10, 1597334677);
      b1 = Math.imul(b1 ^ 10, 2654435761);
      b2 = Math.imul(b2 ^ 10, 1597334677);
    }
    const text = parts[p]!;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      a1 = Math.imul(a1 ^ ch, 2654435761);
      a2 = Math.imul(a2 ^ ch, 1597334677);
      b1 = Math.imul(b1 ^ ch, 2654435761);
      b2 = Math.imul(b2 ^ ch, 1597334677);
    }
  }
  a1 = Math.imul(a1 ^ (a1 >>> 16), 2246822507) ^ Math.imul(a2 ^ (a2 >>> 13), 3266489909);
  a2 = Math.imul(a2 ^ (a2 >>> 16), 2246822507) ^ Math.imul(a1 ^ (a1 >>> 13), 3266489909);
  b1 = Math.imul(b1 ^ (b1 >>> 16), 2246822507) ^ Math.imul(b2 ^ (b2 >>> 13), 3266489909);
  b2 = Math.imul(b2 ^ (b2 >>> 16), 2246822507) ^ Math.imul(b1 ^ (b1 >>> 13), 3266489909);
  putHex14(2097151 & a2, a1 >>> 0, 0);
  putHex14(2097151 & b2, b1 >>> 0, 14);
  return PLAN_ID.toString('latin1', 0, 28);
}

const PLAN_ID = Buffer.alloc(28);
const HEX = Buffer.from('0123456789abcdef');
/** `hi * 2^32 + lo` (below 2^56) as 14 zero-padded hex digits into PLAN_ID at `at`. */
function putHex14(hi: number, lo: number, at: number): void {
  for (let i = at + 13; i >= at + 6; i--, lo >>>= 4) PLAN_ID[i] = HEX[lo & 15]!;
  for (let i = at + 5; i >= at; i--, hi >>>= 4) PLAN_ID[i] = HEX[hi & 15]!;
}
