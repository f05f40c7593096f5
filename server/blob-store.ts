import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { UpdraftError } from '../protocol/index.js';
import { syncDir, tempPathFor } from './atomic-file.js';

const SHA256 = /^[0-9a-f]{64}$/;

export interface WrittenBlob { sha256: string; size: number }

/**
 * Content-addressed blob bytes on disk at `<root>/ab/<sha256>`. A write goes to a temp file in
 * the same directory, is verified and fsynced, then renamed: rename is atomic within a
 * filesystem, so a crash never leaves a partial blob under its final name.
 */
export class BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  pathFor(sha256: string): string {
    if (!SHA256.test(sha256)) throw new UpdraftError('invalid_hash', `not a sha256: ${sha256}`);
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  /** Size in bytes, or null when absent. */
  async size(sha256: string): Promise<number | null> {
    try {
      return (await stat(this.pathFor(sha256))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * Streams `body` to disk, hashing as it goes. Throws `hash_mismatch` (or `size_mismatch`
   * when `expectedSize` is given) and stores nothing if the bytes are not the ones named.
   */
  async write(sha256: string, body: AsyncIterable<Uint8Array>, expectedSize?: number): Promise<WrittenBlob> {
    const final = this.pathFor(sha256);
    await mkdir(dirname(final), { recursive: true });
    const temp = tempPathFor(final);
    const file = await open(temp, 'wx');
    const hash = createHash('sha256');
    let size = 0;
    let ok = false;
    try {
      for await (const chunk of body) {
        size += chunk.byteLength;
        // Stop early instead of buffering an endless body to disk.
        if (expectedSize !== undefined && size > expectedSize) throw sizeMismatch(sha256, expectedSize, size);
        hash.update(chunk);
        await file.write(chunk);
      }
      if (expectedSize !== undefined && size !== expectedSize) throw sizeMismatch(sha256, expectedSize, size);
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new UpdraftError('hash_mismatch', `body hashes to ${actual}, not ${sha256}`, { expected: sha256, actual });
      await file.sync();
      ok = true;
    } finally {
      await file.close();
      if (!ok) await unlink(temp).catch(() => {});
    }
    await rename(temp, final);
    await syncDir(dirname(final));
    return { sha256, size };
  }

  /**
   * Deletes temp files left by writers that died mid-upload (kill -9, power loss): their process is
   * gone. Never visible as blobs, they would only pile up. Another live server sharing this
   * directory keeps its in-progress files. Returns how many were removed.
   */
  async removeStaleTemp(): Promise<number> {
    let removed = 0;
    let dirs: string[];
    try {
      dirs = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    // Blobs and their precompressed copies (`<sha>[.br|.gz].<pid>-<hex>.tmp`), and deltas under
    // `deltas/ab/` (`<from>-<to>[.br|.gz].<pid>-<hex>.tmp`).
    const sweep = async (dir: string, pattern: RegExp) => {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const m = pattern.exec(name);
        if (!m || (m[1] && isAlive(Number(m[1])))) continue;
        await unlink(join(dir, name)).then(() => removed++, () => {});
      }
    };
    for (const d of dirs.filter((name) => /^[0-9a-f]{2}$/.test(name))) {
      await sweep(join(this.root, d), /^[0-9a-f]{64}(?:\.br|\.gz)?\.(?:(\d+)-)?[0-9a-f]+\.tmp$/);
    }
    for (const d of await readdir(join(this.root, 'deltas')).catch(() => [] as string[])) {
      if (/^[0-9a-f]{2}$/.test(d)) await sweep(join(this.root, 'deltas', d), /^[0-9a-f]{64}-[0-9a-f]{64}(?:\.br|\.gz)?\.(\d+)-[0-9a-f]+\.tmp$/);
    }
    // Markers of releases with deltas pending (delta-queue.ts): `deltas/pending/<id>.<pid>-<hex>.tmp`.
    await sweep(join(this.root, 'deltas', 'pending'), /^[0-9a-f]{16}\.(\d+)-[0-9a-f]+\.tmp$/);
    return removed;
  }

  /** A web stream of the blob's bytes, `end` inclusive (as in a Range header). */
  read(sha256: string, range?: { start: number; end: number }): ReadableStream<Uint8Array> {
    const stream = createReadStream(this.pathFor(sha256), range);
    return Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
  }
}

/** Whether a process with this pid runs (EPERM: it does, as another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sizeMismatch(sha256: string, expected: number, actual: number): UpdraftError {
  return new UpdraftError('size_mismatch', `blob ${sha256} is not ${expected} bytes`, { expected, actual });
}
