import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { writeFileAtomic } from './atomic-file.js';

/** Content codings the server precompresses into, in order of preference when a client accepts several. */
export type Encoding = 'br' | 'gzip';
export const ENCODINGS: readonly Encoding[] = ['br', 'gzip'];

const SUFFIX: Record<Encoding, string> = { br: '.br', gzip: '.gz' };
const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/** `<file>.br` / `<file>.gz`: a precompressed copy beside the identity bytes. */
export function encodedPath(file: string, encoding: Encoding): string {
  return file + SUFFIX[encoding];
}

/**
 * Writes `<file>.br` and `<file>.gz` beside `file`, each only when it is smaller than the identity
 * bytes (images and fonts usually are not): done once when a blob or delta is stored, so serving
 * never compresses. Max quality, since the cost is paid once per part and every client gains.
 * A temp name then rename, as for blobs: a crash never leaves a truncated copy under its name.
 */
export async function precompress(file: string): Promise<void> {
  await writeEncoded(file, await readFile(file));
}

/**
 * Writes the precompressed copies of `data` (the bytes that are or will be at `file`), each through
 * a temp file named `<copy>.<pid>-<random>.tmp` (what `BlobStore.removeStaleTemp` sweeps after a
 * crash) and a rename.
 */
export async function writeEncoded(file: string, data: Uint8Array): Promise<void> {
  if (data.byteLength < 64) return;
  // Already-compressed bytes (images, fonts, archives) would cost brotli's slowest mode for nothing.
  if (await incompressible(data)) return;
  const encoded: [Encoding, Buffer][] = [
    ['br', await brotli(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength } })],
    ['gzip', await gz(data, { level: 9 })],
  ];
  for (const [encoding, bytes] of encoded) {
    if (bytes.byteLength >= data.byteLength) continue;
    await writeFileAtomic(encodedPath(file, encoding), bytes);
  }
}

/**
 * Whether `data` looks already compressed (images, fonts, archives, random bytes): a fast gzip of
 * its first 64 KiB saves under 10 %. Such parts get neither precompressed copies nor deltas (two
 * builds of a re-encoded image share nearly nothing, and a delta over random bytes is slow to find).
 */
export async function incompressible(data: Uint8Array): Promise<boolean> {
  const sample = data.subarray(0, 65_536);
  return (await gz(sample, { level: 1 })).byteLength >= 0.9 * sample.byteLength;
}

/** Byte size of each precompressed copy of `file` that exists. */
export async function encodedSizes(file: string): Promise<Partial<Record<Encoding, number>>> {
  const out: Partial<Record<Encoding, number>> = {};
  for (const e of ENCODINGS) {
    try {
      out[e] = (await stat(encodedPath(file, e))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/**
 * Pure: the coding to answer with, given the request's `Accept-Encoding` and the copies on disk
 * (RFC 9110 §12.5.3: a coding with `q=0` is refused; `*` accepts the rest). Brotli first: it is
 * the smaller one for text.
 */
export function chooseEncoding(acceptEncoding: string | undefined, available: readonly Encoding[]): Encoding | null {
  if (!acceptEncoding || available.length === 0) return null;
  const q = new Map<string, number>();
  for (const item of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = item.trim().split(';');
    if (!name) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qp ? Number(qp.slice(2)) : 1;
    q.set(name.trim(), Number.isFinite(value) ? value : 0);
  }
  for (const e of ENCODINGS) {
    if (!available.includes(e)) continue;
    const weight = q.get(e) ?? (e === 'gzip' ? q.get('x-gzip') : undefined) ?? q.get('*') ?? 0;
    if (weight > 0) return e;
  }
  return null;
}
