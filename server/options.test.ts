import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from './blob-store.js';
import { resolveOptions, type UpdateServerOptions } from './options.js';
import type { Store } from './store.js';
import { tempStore } from './temp-store.js';

const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function base(): UpdateServerOptions {
  const { dir, store } = tempStore({ prefix: 'updraft-options-' });
  stores.push(store);
  return { store, blobs: new BlobStore(join(dir, 'blobs')) };
}

const SAFE = Number.MAX_SAFE_INTEGER;

describe('resolveOptions: numeric options out of range are a TypeError naming the option and the range', () => {
  it('refuses NaN, fractions, negatives and absurd values', () => {
    const o = base();
    const refused: [Partial<UpdateServerOptions>, string][] = [
      [{ bodyLimit: Number.NaN }, `bodyLimit must be an integer in [1, ${SAFE}], got NaN`],
      [{ bodyLimit: 0 }, `bodyLimit must be an integer in [1, ${SAFE}], got 0`],
      [{ bodyLimit: 1.5 }, `bodyLimit must be an integer in [1, ${SAFE}], got 1.5`],
      [{ bodyLimit: Infinity }, `bodyLimit must be an integer in [1, ${SAFE}], got Infinity`],
      [{ adminBodyLimit: -1 }, `adminBodyLimit must be an integer in [1, ${SAFE}], got -1`],
      [{ adminBodyLimit: 1e300 }, `adminBodyLimit must be an integer in [1, ${SAFE}], got 1e+300`],
      [{ checkInCacheMs: Number.NaN }, `checkInCacheMs must be an integer in [0, ${SAFE}], got NaN`],
      [{ checkInCacheMs: -1 }, `checkInCacheMs must be an integer in [0, ${SAFE}], got -1`],
      [{ clientCheckIns: { max: 0, windowMs: 60_000 } }, `clientCheckIns.max must be an integer in [1, ${SAFE}], got 0`],
      [{ clientCheckIns: { max: Number.NaN, windowMs: 60_000 } }, `clientCheckIns.max must be an integer in [1, ${SAFE}], got NaN`],
      [{ clientCheckIns: { max: 2.5, windowMs: 60_000 } }, `clientCheckIns.max must be an integer in [1, ${SAFE}], got 2.5`],
      [{ clientCheckIns: { max: 60, windowMs: Number.NaN } }, 'clientCheckIns.windowMs must be an integer in [1, 86400000] (a day at most), got NaN'],
      [{ clientCheckIns: { max: 60, windowMs: 86_400_001 } }, 'clientCheckIns.windowMs must be an integer in [1, 86400000] (a day at most), got 86400001'],
      [{ clientReports: { max: 60, windowMs: 0 } }, 'clientReports.windowMs must be an integer in [1, 86400000] (a day at most), got 0'],
      [{ clientReports: { max: -3, windowMs: 60_000 } }, `clientReports.max must be an integer in [1, ${SAFE}], got -3`],
      [{ clientCheckIns: true as unknown as false }, 'clientCheckIns must be { max, windowMs } or false'],
      [{ clientReports: null as unknown as false }, 'clientReports must be { max, windowMs } or false'],
      [{ deltas: { history: 0 } }, `deltas.history must be an integer in [1, ${SAFE}], got 0`],
      [{ deltas: { history: 1.5 } }, `deltas.history must be an integer in [1, ${SAFE}], got 1.5`],
      [{ deltas: { maxBytes: Number.NaN } }, `deltas.maxBytes must be an integer in [1, ${SAFE}], got NaN`],
      [{ deltas: { maxMs: 2_147_483_648 } }, 'deltas.maxMs must be an integer in [1, 2147483647], got 2147483648'],
      [{ deltas: { maxMs: 0 } }, 'deltas.maxMs must be an integer in [1, 2147483647], got 0'],
      [{ deltas: { inlineBytes: -1 } }, `deltas.inlineBytes must be an integer in [0, ${SAFE}], got -1`],
      [{ deltas: { cacheBytes: 0 } }, `deltas.cacheBytes must be an integer in [1, ${SAFE}], got 0`],
      [{ deltas: { cacheBytes: 1e6 + 0.5 } }, `deltas.cacheBytes must be an integer in [1, ${SAFE}], got 1000000.5`],
      [{ deltas: 'on' as unknown as false }, 'deltas must be { history?, maxBytes?, maxMs?, inlineBytes?, cacheBytes? } or false'],
    ];
    for (const [options, message] of refused) expect(() => resolveOptions({ ...o, ...options }), message).toThrow(new TypeError(message));
  });

  it('takes the edges of each range and the defaults as they were', () => {
    const o = base();
    const defaults = resolveOptions(o);
    expect(defaults).toMatchObject({ bodyLimit: 1_048_576, adminBodyLimit: 67_108_864, clientCheckIns: { max: 60, windowMs: 60_000 }, clientReports: { max: 60, windowMs: 60_000 } });
    expect(defaults.deltas).toMatchObject({ history: 3, maxBytes: 8_388_608, maxMs: 5000, inlineBytes: 1024 });
    const edges = resolveOptions({
      ...o, bodyLimit: 1, adminBodyLimit: SAFE, checkInCacheMs: 0,
      clientCheckIns: { max: 1, windowMs: 86_400_000 }, clientReports: false,
      deltas: { history: 1, maxBytes: 1, maxMs: 2_147_483_647, inlineBytes: 0, cacheBytes: 1 },
    });
    expect(edges).toMatchObject({ bodyLimit: 1, adminBodyLimit: SAFE, clientCheckIns: { max: 1, windowMs: 86_400_000 }, clientReports: false });
    expect(edges.deltas).toMatchObject({ history: 1, maxBytes: 1, maxMs: 2_147_483_647, inlineBytes: 0 });
    expect(resolveOptions({ ...o, deltas: false }).deltas).toBe(false);
  });
});
