import { createHash } from 'node:crypto';

/** First 4 bytes of sha256(text) as an unsigned 32-bit integer: synchronous and deterministic. */
function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/**
 * A client's rollout bucket (0-99) for one target release. Hashing the target in as well keeps
 * membership sticky within a rollout and redraws it for the next one (CodePush's rule), so the
 * same clients are not always first.
 */
export function rolloutBucket(clientId: string, releaseId: string): number {
  return hash32(clientId + releaseId) % 100;
}

/** A deterministic delay in [0, spreadMs) for a client's downloads of one release. */
export function spreadOffset(clientId: string, releaseId: string, spreadMs: number): number {
  if (spreadMs <= 0) return 0;
  return Math.floor((hash32(`spread:${clientId}:${releaseId}`) / 2 ** 32) * spreadMs);
}

/** Same inputs, same plan id: a client retrying a check-in in the same millisecond gets the same plan. */
export function planIdFor(clientId: string, to: string, issuedAt: number): string {
  return createHash('sha256').update(`${clientId}\n${to}\n${issuedAt}`).digest('hex').slice(0, 24);
}
