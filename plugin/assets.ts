import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { lookup } from 'mrmime';
import type { Asset } from '../protocol/index.js';

/**
 * Where mrmime's table (the mime-db registry) is not what a browser needs: it has no `.ico`, and
 * `.cjs` is `application/node`, which a browser refuses to run as a script. Keep this small.
 */
const OVERRIDES: ReadonlyMap<string, string> = new Map([
  ['ico', 'image/x-icon'],
  ['cjs', 'text/javascript'],
]);

/** The content type a server should send for `path`. */
export function contentType(path: string): string {
  const ext = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase();
  return (ext !== undefined ? OVERRIDES.get(ext) : undefined) ?? lookup(path) ?? 'application/octet-stream';
}

export function describeAsset(path: string, bytes: Uint8Array): Asset {
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.byteLength, type: contentType(path) };
}

/** Every file under `dir` except `exclude` (relative POSIX paths), sorted by path so output is stable. */
export async function collectAssets(dir: string, exclude: ReadonlySet<string>): Promise<Asset[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((p) => !exclude.has(p))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const assets: Asset[] = [];
  for (const path of paths) assets.push(await describeFile(path, join(dir, path)));
  return assets;
}

/**
 * As describeAsset, streamed: reading a file whole held a video or a model in memory while it was
 * hashed, and Node refuses to read one over 2 GiB (ERR_FS_FILE_TOO_LARGE) at all.
 */
async function describeFile(path: string, file: string): Promise<Asset> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { path, sha256: hash.digest('hex'), size, type: contentType(path) };
}
