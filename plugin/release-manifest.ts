import * as v from 'valibot';
import { checkManifestConsistency, computeReleaseId, ReleaseManifest, type Asset } from '../protocol/index.js';

export interface ReleaseInput {
  app: string;
  version: string;
  entry: string;
  assets: Asset[];
  sw: Asset;
  now?: Date;
}

/** Assembles the manifest and checks it against the wire schema, so a bad build fails here and not at publish. */
export async function createReleaseManifest(input: ReleaseInput): Promise<ReleaseManifest> {
  const manifest: ReleaseManifest = {
    id: await computeReleaseId(input.assets, input.entry, input.sw),
    app: input.app,
    version: input.version,
    createdAt: (input.now ?? new Date()).toISOString(),
    entry: input.entry,
    assets: input.assets,
    sw: input.sw,
  };
  const result = v.safeParse(ReleaseManifest, manifest);
  if (!result.success) {
    const problems = result.issues.slice(0, 5).map((i) => `${v.getDotPath(i) ?? 'manifest'}: ${i.message}`);
    throw new Error(`[updraft] the release manifest is invalid: ${problems.join('; ')}`);
  }
  const problem = await checkManifestConsistency(manifest);
  if (problem) throw new Error(`[updraft] the release manifest is inconsistent: ${problem}`);
  return manifest;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(2)} MB`;
}
