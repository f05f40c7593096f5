/**
 * A release manifest as a change to one the client already holds: what a plan carries instead of
 * the whole manifest when the client runs a release the server knows. The manifest is most of a
 * plan's bytes (every asset's hash, which does not compress), while an update usually changes a
 * few files. Signatures cover the whole manifest (`planStatement`), so the worker rebuilds it from
 * its own copy of `base` before checking them: a wrong patch, or a wrong base, fails there.
 */
import * as v from 'valibot';
import { boundedArray } from './bounded-array.js';
import { label } from './label.js';
import { Asset, AssetPath, ReleaseId, type ReleaseManifest } from './release.js';

export const ReleasePatch = v.object({
  /** The release the patch applies to: the plan's `from`. */
  base: ReleaseId,
  version: label(100),
  createdAt: v.pipe(v.string(), v.isoTimestamp()),
  entry: AssetPath,
  sw: v.optional(Asset),
  /** Paths of `base` the target does not have. */
  removed: boundedArray(AssetPath, 100_000),
  /** Assets of the target that `base` lacks or has with another hash, size or type. */
  changed: boundedArray(Asset, 100_000),
});
export type ReleasePatch = v.InferOutput<typeof ReleasePatch>;

export function makeReleasePatch(base: ReleaseManifest, target: ReleaseManifest): ReleasePatch {
  const had = new Map(base.assets.map((a) => [a.path, a]));
  const has = new Set(target.assets.map((a) => a.path));
  const changed = target.assets.filter((a) => {
    const b = had.get(a.path);
    return !b || b.sha256 !== a.sha256 || b.size !== a.size || b.type !== a.type;
  });
  return {
    base: base.id,
    version: target.version,
    createdAt: target.createdAt,
    entry: target.entry,
    ...(target.sw ? { sw: target.sw } : {}),
    removed: base.assets.filter((a) => !has.has(a.path)).map((a) => a.path),
    changed,
  };
}

/** The target manifest: `base` minus `removed`, with `changed` put in; assets sorted by path. */
export function applyReleasePatch(base: ReleaseManifest, patch: ReleasePatch, id: string, app: string): ReleaseManifest {
  const assets = new Map(base.assets.map((a) => [a.path, a]));
  for (const path of patch.removed) assets.delete(path);
  for (const a of patch.changed) assets.set(a.path, a);
  return {
    id,
    app,
    version: patch.version,
    createdAt: patch.createdAt,
    entry: patch.entry,
    assets: [...assets.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    ...(patch.sw ? { sw: patch.sw } : {}),
  };
}
