/** DeltaStore on real files: what `info` keeps in memory. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from './blob-store.js';
import { DeltaStore } from './delta-store.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function put(blobs: BlobStore, bytes: Uint8Array): Promise<string> {
  const sha = createHash('sha256').update(bytes).digest('hex');
  await blobs.write(sha, (async function* () { yield bytes; })());
  return sha;
}

/** `n` stored deltas, each between two unlike text parts of ~`size` bytes: the delta is about as large as the part. */
async function deltas(store: DeltaStore, n: number, size: number): Promise<{ from: string; to: string }[]> {
  const pairs: { from: string; to: string }[] = [];
  for (let i = 0; i < n; i++) {
    // Random hex: compressible enough to be stored (`incompressible` skips binary-looking parts).
    const text = () => Buffer.from(`${i}\n${randomBytes(size / 2).toString('hex')}\n`);
    const from = await put(store.blobs, text());
    const to = await put(store.blobs, text());
    expect(await store.ensure(from, to, { maxBytes: 1 << 20, maxMs: 5000 })).toBe(true);
    pairs.push({ from, to });
  }
  return pairs;
}

describe('DeltaStore.info: the deltas it remembers', () => {
  it('stays within cacheBytes whatever inlineBytes is, dropping the least recently used first', async () => {
    dir = mkdtempSync(join(tmpdir(), 'updraft-delta-store-'));
    const cacheBytes = 4 * 1024;
    const store = new DeltaStore(new BlobStore(join(dir, 'blobs')), { cacheBytes });
    // ~1 KiB deltas: ~1.4 KiB of base64 each, ~1.8 KiB with the entry's own cost; two fit, not three.
    const [a, b, c, d] = (await deltas(store, 4, 1024)) as [{ from: string; to: string }, { from: string; to: string }, { from: string; to: string }, { from: string; to: string }];
    const inline = 1 << 20;
    for (const p of [a, b]) expect((await store.info(p.from, p.to, inline))?.inline).toBeDefined();
    expect(store.cachedBytes).toBeGreaterThan(3 * 1024);
    expect(store.cachedBytes).toBeLessThanOrEqual(cacheBytes);
    // `a` used again: `b` is now the least recently used, and goes when `c` comes in.
    await store.info(a.from, a.to, inline);
    await store.info(c.from, c.to, inline);
    expect(store.cachedBytes).toBeLessThanOrEqual(cacheBytes);
    // Which ones are still remembered: with their files gone, only those answer.
    for (const p of [a, b, c]) rmSync(store.pathFor(p.from, p.to));
    expect(await store.info(a.from, a.to, inline)).not.toBeNull();
    expect(await store.info(c.from, c.to, inline)).not.toBeNull();
    expect(await store.info(b.from, b.to, inline)).toBeNull();
    // An entry larger than the whole budget is not kept at all (and evicts nothing).
    const [big] = (await deltas(store, 1, 4096)) as [{ from: string; to: string }];
    expect((await store.info(big.from, big.to, inline))?.inline).toBeDefined();
    expect(await store.info(a.from, a.to, inline)).not.toBeNull();
    rmSync(store.pathFor(big.from, big.to));
    expect(await store.info(big.from, big.to, inline)).toBeNull();
    // Without inline bytes an entry is small: many fit, still within the budget.
    await store.info(d.from, d.to, 0);
    expect(await store.info(d.from, d.to, 0)).toMatchObject({ from: d.from });
    expect(store.cachedBytes).toBeLessThanOrEqual(cacheBytes);
  });
});
