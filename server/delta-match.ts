import type { ReleaseManifest } from '../protocol/index.js';

/**
 * A build's content hash stripped from a file name: Vite (Rollup/Rolldown) names chunks and
 * assets `name-HASH.ext` with an 8-character base64url hash, so `assets/index-B3xk9_aQ.js` and
 * `assets/index-Cz81fmQw.js` are the same logical file in two builds. Names without a hash
 * (`index.html`) are their own logical name.
 */
export function logicalPath(path: string): string {
  return path.replace(/-[A-Za-z0-9_-]{8}(\.[A-Za-z0-9]+)$/, '$1');
}

export interface DeltaPair { from: string; to: string }

/**
 * Pure: for each part of `to` that `from` lacks, the part of `from` at the same logical path (its
 * predecessor), if any. A logical path `from` holds twice (a hash collision of stripped names) is
 * ambiguous and gets no predecessor.
 */
export function predecessors(from: ReleaseManifest, to: ReleaseManifest): DeltaPair[] {
  const have = new Set(from.assets.map((a) => a.sha256));
  const byLogical = new Map<string, string | null>();
  for (const a of from.assets) {
    const key = logicalPath(a.path);
    byLogical.set(key, byLogical.has(key) && byLogical.get(key) !== a.sha256 ? null : a.sha256);
  }
  const pairs: DeltaPair[] = [];
  const seen = new Set<string>();
  for (const a of to.assets) {
    if (have.has(a.sha256) || seen.has(a.sha256)) continue;
    const base = byLogical.get(logicalPath(a.path));
    if (!base) continue;
    seen.add(a.sha256);
    pairs.push({ from: base, to: a.sha256 });
  }
  return pairs;
}
