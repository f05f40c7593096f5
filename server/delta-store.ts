import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { getDeltaTargetSize } from 'fossil-delta';
import { LRUCache } from 'lru-cache';
import { UpdraftError } from '../protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';
import { computeDelta } from './delta-compute.js';
import { fileSize } from './blob-response.js';
import type { BlobStore } from './blob-store.js';
import { encodedSizes, incompressible, writeEncoded } from './precompress.js';

const SHA256 = /^[0-9a-f]{64}$/;

/** Entries `info` remembers, whatever their size. */
const KNOWN_ENTRIES = 4096;
/** What one remembered entry costs beyond its inline bytes: its key, sizes and the Map's own. */
const ENTRY_OVERHEAD = 256;

export interface DeltaStoreOptions {
  /**
   * Bytes of found deltas `info` keeps in memory, inline bytes (base64) included, the least
   * recently used dropped first. @default 67_108_864 (64 MiB)
   */
  cacheBytes?: number;
}

/** What the planner needs to know about one stored delta. */
export interface DeltaInfo {
  from: string;
  /** Delta bytes, decoded. */
  size: number;
  /** The fewest bytes the delta can travel as (its smallest precompressed copy, else `size`). */
  wire: number;
  /** The fewest bytes the whole part can travel as. */
  wholeWire: number;
  /** The delta's bytes, base64, when it is small enough to travel inside the plan (see `info`). */
  inline?: string;
}

/**
 * Fossil deltas between parts, content-addressed by the pair at `<blobs>/deltas/ab/<from>-<to>`
 * (beside the blobs, outside the two-hex-digit directories the blob store sweeps), each with its
 * precompressed copies. A delta is computed once and never changes, like the blobs it joins.
 */
export class DeltaStore {
  readonly root: string;

  /**
   * Found deltas, by `from/to/inlineBytes`: a delta and its part never change once written.
   * Capped in bytes, not only in count: with a large `inlineBytes` each entry holds up to that
   * many bytes of delta, and 4096 of them could be gigabytes.
   */
  readonly #known: LRUCache<string, DeltaInfo>;

  constructor(readonly blobs: BlobStore, o: DeltaStoreOptions = {}) {
    this.root = join(blobs.root, 'deltas');
    // An entry costs its inline bytes plus its key and bookkeeping; one costing more than the
    // whole budget is not kept (lru-cache's `maxEntrySize` defaults to `maxSize`) and evicts nothing.
    this.#known = new LRUCache({ max: KNOWN_ENTRIES, maxSize: o.cacheBytes ?? 64 * 1024 * 1024, sizeCalculation: (info, key) => key.length + (info.inline?.length ?? 0) + ENTRY_OVERHEAD });
  }

  /** Bytes `info` holds in memory now (see `DeltaStoreOptions.cacheBytes`). */
  get cachedBytes(): number {
    return this.#known.calculatedSize;
  }

  pathFor(from: string, to: string): string {
    if (!SHA256.test(from) || !SHA256.test(to)) throw new UpdraftError('invalid_hash', 'not a sha256 pair');
    return join(this.root, from.slice(0, 2), `${from}-${to}`);
  }

  /**
   * Computes and stores the delta `from → to` unless it exists. Skipped (false) when either blob
   * is missing or larger than `maxBytes` (delta creation is O(n) memory per file, and publish must
   * stay bounded), when `to` looks already compressed (`incompressible`), or when computing it
   * takes more than `maxMs` (files too unlike each other: see delta-compute.ts), or `signal`
   * aborted it (nothing is written then).
   */
  async ensure(from: string, to: string, { maxBytes, maxMs }: { maxBytes: number; maxMs: number }, signal?: AbortSignal): Promise<boolean> {
    const path = this.pathFor(from, to);
    const [a, b] = [await this.blobs.size(from), await this.blobs.size(to)];
    // A torn delta (see `whole`) is computed again, written over it.
    if (b !== null && (await whole(path, b))) return true;
    if (a === null || b === null || a > maxBytes || b > maxBytes) return false;
    const target = await readFile(this.blobs.pathFor(to));
    if (target.byteLength >= 64 && (await incompressible(target))) return false;
    const delta = await computeDelta(await readFile(this.blobs.pathFor(from)), target, maxMs, signal);
    if (!delta || signal?.aborted) return false;
    await mkdir(dirname(path), { recursive: true });
    // The compressed copies first: once the delta is visible under its name, it is complete. A
    // crash in between leaves temp files (swept at the next start) or copies without a delta,
    // never served (the route looks for the delta) and rewritten by the next `ensure`.
    await writeEncoded(path, delta);
    await writeFileAtomic(path, delta);
    return true;
  }

  /**
   * Sizes for the planner, or null when the delta is not stored. A delta of at most `inlineBytes`
   * also carries its bytes: a request's own headers (~450 bytes) would cost more than it.
   */
  async info(from: string, to: string, inlineBytes = 0): Promise<DeltaInfo | null> {
    const key = `${from}/${to}/${inlineBytes}`;
    const known = this.#known.get(key);
    if (known) return known;
    let found: DeltaInfo | null;
    try {
      found = await this.#read(from, to, inlineBytes);
    } catch (e) {
      // A delta only saves bytes: one that cannot be read (EACCES, EIO, ENOTDIR) is one not
      // offered, never a failed check-in for every client moving between these releases.
      console.warn(`updraft: delta ${from.slice(0, 12)}… → ${to.slice(0, 12)}… not offered: ${(e as Error).message}`);
      return null;
    }
    // Not found is not remembered: the delta may be written soon by the background queue
    // (delta-queue.ts), of this process or of another sharing the blobs directory.
    if (found) this.#known.set(key, found);
    return found;
  }

  async #read(from: string, to: string, inlineBytes: number): Promise<DeltaInfo | null> {
    const path = this.pathFor(from, to);
    const part = await this.blobs.size(to);
    if (part === null) return null;
    const size = await whole(path, part);
    if (size === null) return null;
    const info: DeltaInfo = { from, size, wire: smallest(size, await encodedSizes(path)), wholeWire: smallest(part, await encodedSizes(this.blobs.pathFor(to))) };
    if (size <= inlineBytes) info.inline = (await readFile(path)).toString('base64');
    return info;
  }
}

/**
 * The size of the delta at `path` when it looks whole for a part of `partSize` bytes, else null:
 * its header states that size and it ends with the checksum's `;` (delta_format.wiki). A file cut
 * short or emptied by a power loss after its rename fails this, so it is neither offered (every
 * client would fetch it, reject it and fetch the whole part) nor taken by `ensure` as done.
 */
async function whole(path: string, partSize: number): Promise<number | null> {
  const size = await fileSize(path);
  if (size === null || size < 2) return null;
  const file = await open(path, 'r');
  try {
    // The header is a base-64 number of at most 6 digits (32 bits) and a newline.
    const { buffer: head, bytesRead } = await file.read(Buffer.alloc(Math.min(size, 8)), 0, Math.min(size, 8), 0);
    const { buffer: last } = await file.read(Buffer.alloc(1), 0, 1, size - 1);
    if (last[0] !== 0x3b) return null;
    return getDeltaTargetSize(head.subarray(0, bytesRead)) === partSize ? size : null;
  } catch {
    return null;
  } finally {
    await file.close();
  }
}

function smallest(identity: number, encoded: Partial<Record<string, number>>): number {
  return Math.min(identity, ...Object.values(encoded).filter((n): n is number => n !== undefined));
}
