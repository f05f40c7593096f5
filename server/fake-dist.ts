import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { lookup } from 'mrmime';
import { MANIFEST_FILE, computeReleaseId, sha256Hex, type Asset, type ReleaseManifest } from '../protocol/index.js';

export interface FakeDist {
  manifest: ReleaseManifest;
  /** Every file's bytes by path, the sw included. */
  files: Map<string, Uint8Array>;
}

export interface FakeDistOptions {
  app?: string;
  version?: string;
  /** @default 'index.html' */
  entry?: string;
  /** Source of `sw.js` (served by the server, not an asset). Omit for no sw. */
  sw?: string;
  /**
   * The id as builds before protocol 0.6 made it: of the app's files only, not `sw.js` (a release
   * published by an older Updraft, whose worker does not say `caps.swIds`). @default false
   */
  legacyId?: boolean;
  createdAt?: string;
}

const encoder = new TextEncoder();

/**
 * A release built from in-memory files, with the manifest the Vite plugin would emit. For tests
 * and demos that need a publishable build without running Vite.
 */
export async function fakeDist(assets: Record<string, string | Uint8Array>, o: FakeDistOptions = {}): Promise<FakeDist> {
  const files = new Map<string, Uint8Array>();
  const describe = async (path: string, content: string | Uint8Array): Promise<Asset> => {
    const bytes = typeof content === 'string' ? encoder.encode(content) : new Uint8Array(content);
    files.set(path, bytes);
    return { path, sha256: await sha256Hex(bytes), size: bytes.byteLength, type: lookup(path) ?? 'application/octet-stream' };
  };
  const list = await Promise.all(Object.entries(assets).map(([p, c]) => describe(p, c)));
  const entry = o.entry ?? 'index.html';
  const sw = o.sw !== undefined ? await describe('sw.js', o.sw) : undefined;
  const manifest: ReleaseManifest = {
    id: await computeReleaseId(list, entry, o.legacyId ? undefined : sw),
    app: o.app ?? 'demo',
    version: o.version ?? '1.0.0',
    createdAt: o.createdAt ?? new Date(0).toISOString(),
    entry,
    assets: list,
    ...(sw ? { sw } : {}),
  };
  return { manifest, files };
}

/** Writes a fake dist to `dir` as a build would lay it out, manifest included. */
export async function writeDist(dir: string, dist: FakeDist): Promise<void> {
  for (const [path, bytes] of dist.files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(dist.manifest, null, 2));
}
