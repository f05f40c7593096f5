import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdraftError } from '../protocol/index.js';
import { BlobStore } from './blob-store.js';
import { parseRange } from '../protocol/index.js';

const bytes = new TextEncoder().encode('hello updraft');
const sha = createHash('sha256').update(bytes).digest('hex');
async function* chunks(...parts: Uint8Array[]) {
  yield* parts;
}

describe('BlobStore', () => {
  let dir: string;
  let blobs: BlobStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'updraft-blobs-'));
    blobs = new BlobStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes content-addressed under ab/<sha>', async () => {
    expect(await blobs.write(sha, chunks(bytes.subarray(0, 5), bytes.subarray(5)))).toEqual({ sha256: sha, size: bytes.length });
    expect(readFileSync(join(dir, sha.slice(0, 2), sha)).toString()).toBe('hello updraft');
    expect(await blobs.size(sha)).toBe(bytes.length);
    expect(await blobs.size('0'.repeat(64))).toBeNull();
  });

  it.each([
    ['hash_mismatch', 'f'.repeat(64), undefined],
    ['size_mismatch', sha, 3],
    ['size_mismatch', sha, 100],
  ] as const)('rejects %s and leaves nothing behind', async (code, name, size) => {
    const err = await blobs.write(name, chunks(bytes), size).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpdraftError);
    expect((err as UpdraftError).code).toBe(code);
    expect(readdirSync(join(dir, name.slice(0, 2)))).toEqual([]);
  });

  it('refuses non-hash names (no path traversal)', () => {
    expect(() => blobs.pathFor('../../etc/passwd')).toThrow(UpdraftError);
  });

  it('removeStaleTemp deletes the temp files of dead writers only', async () => {
    await blobs.write(sha, chunks(bytes));
    const sub = join(dir, sha.slice(0, 2));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(sub, `${sha}.${dead}-0a1b2c.tmp`), 'partial');
    writeFileSync(join(sub, `${sha}.0a1b2c3d4e5f.tmp`), 'partial, named before pids were recorded');
    writeFileSync(join(sub, `${sha}.${process.pid}-0a1b2c.tmp`), 'a live upload');
    expect(await blobs.removeStaleTemp()).toBe(2);
    expect(readdirSync(sub).sort()).toEqual([sha, `${sha}.${process.pid}-0a1b2c.tmp`].sort());
    expect(await new BlobStore(join(dir, 'nowhere')).removeStaleTemp()).toBe(0);
  });

  it('removeStaleTemp also sweeps dead writers\' precompressed copies and deltas, and keeps finished ones', async () => {
    await blobs.write(sha, chunks(bytes));
    const sub = join(dir, sha.slice(0, 2));
    const deltas = join(dir, 'deltas', sha.slice(0, 2));
    mkdirSync(deltas, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const pair = `${sha}-${'f'.repeat(64)}`;
    writeFileSync(join(sub, `${sha}.br`), 'a finished copy');
    writeFileSync(join(sub, `${sha}.br.${dead}-0a1b2c.tmp`), 'partial');
    writeFileSync(join(sub, `${sha}.gz.${process.pid}-0a1b2c.tmp`), 'being written');
    writeFileSync(join(deltas, pair), 'a finished delta');
    writeFileSync(join(deltas, `${pair}.${dead}-0a1b2c.tmp`), 'partial');
    writeFileSync(join(deltas, `${pair}.br.${dead}-0a1b2c.tmp`), 'partial');
    expect(await blobs.removeStaleTemp()).toBe(3);
    expect(readdirSync(sub).sort()).toEqual([sha, `${sha}.br`, `${sha}.gz.${process.pid}-0a1b2c.tmp`].sort());
    expect(readdirSync(deltas)).toEqual([pair]);
  });
});

describe('parseRange', () => {
  it.each([
    ['bytes=0-4', 10, { start: 0, end: 4 }],
    ['bytes=5-', 10, { start: 5, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    ['bytes=-30', 10, { start: 0, end: 9 }],
    ['bytes=8-100', 10, { start: 8, end: 9 }],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=5-4', 10, 'unsatisfiable'],
    ['bytes=0-1,3-4', 10, 'unsatisfiable'],
    ['items=0-1', 10, 'unsatisfiable'],
    ['bytes=-', 10, 'unsatisfiable'],
    ['bytes=-0', 10, 'unsatisfiable'],
    ['bytes=0-0', 0, 'unsatisfiable'],
    ['bytes=99999999999999999999-', 10, 'unsatisfiable'],
  ] as const)('%s of %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});
