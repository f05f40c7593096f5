import type { ReleaseSummary } from '../protocol/index.js';
import type { StoredRelease } from './store.js';

/**
 * A release as `status` and the dashboard list it. `parts` and `bytes` count what `publish`
 * counts (its "uploaded N of M parts"): each distinct part once, `sw.js` included, since the
 * release id covers it (protocol 0.6) and it is stored and served like the others. Counting the
 * assets alone showed the demo as 7 parts and 18 kB after a publish of 8 parts and 116 kB.
 */
export function releaseSummary(r: StoredRelease): ReleaseSummary {
  const sizes = new Map<string, number>();
  for (const part of [...r.manifest.assets, ...(r.manifest.sw ? [r.manifest.sw] : [])]) sizes.set(part.sha256, part.size);
  let bytes = 0;
  for (const size of sizes.values()) bytes += size;
  return { id: r.manifest.id, app: r.manifest.app, version: r.manifest.version, seq: r.seq, createdAt: r.manifest.createdAt, parts: sizes.size, bytes };
}
