import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeDist } from './fake-dist.js';
import { openSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/** The Store contract; the PostgreSQL store will call this with its own `open`. */
export function storeContract(name: string, open: (dir: string) => Store | Promise<Store>): void {
  describe(name, () => {
    let dir: string;
    let store: Store;
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'updraft-store-'));
      store = await open(dir);
    });
    afterEach(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('assigns seq per app, monotonically, and re-inserting is a no-op', async () => {
      const a1 = (await fakeDist({ 'index.html': 'a1' }, { app: 'a' })).manifest;
      const a2 = (await fakeDist({ 'index.html': 'a2' }, { app: 'a' })).manifest;
      const b1 = (await fakeDist({ 'index.html': 'b1' }, { app: 'b' })).manifest;
      expect(await store.insertRelease(a1, 1)).toEqual({ seq: 1, created: true });
      expect(await store.insertRelease(b1, 2)).toEqual({ seq: 1, created: true });
      expect(await store.insertRelease(a2, 3)).toEqual({ seq: 2, created: true });
      expect(await store.insertRelease(a1, 4)).toEqual({ seq: 1, created: false });
      expect((await store.latestRelease('a'))?.manifest.id).toBe(a2.id);
      expect((await store.listReleases('a')).map((r) => r.seq)).toEqual([1, 2]);
      expect(await store.listApps()).toEqual(['a', 'b']);
      expect((await store.getRelease(a1.id))?.manifest).toEqual(a1);
      expect(await store.getRelease('ffffffffffffffff')).toBeNull();
    });

    it('channels: previous becomes the old release when the release changes, omitted fields kept', async () => {
      const r1 = (await fakeDist({ 'index.html': '1' })).manifest;
      const r2 = (await fakeDist({ 'index.html': '2' })).manifest;
      await store.insertRelease(r1, 1);
      await store.insertRelease(r2, 2);
      expect(await store.putChannel('demo', 'stable', { release: r1.id }, 10)).toMatchObject({ release: r1.id, previous: null, percent: 100, activation: 'next-navigation' });
      expect(await store.putChannel('demo', 'stable', { release: r2.id, percent: 10, activation: 'prompt' }, 11)).toMatchObject({ release: r2.id, previous: r1.id, percent: 10 });
      // Same release: only the percentage moves, previous stays.
      expect(await store.putChannel('demo', 'stable', { release: r2.id, percent: 50 }, 12)).toMatchObject({ release: r2.id, previous: r1.id, percent: 50, activation: 'prompt', updatedAt: 12 });
      expect(await store.getChannel('demo', 'beta')).toBeNull();
    });

    it('keeps data across a restart', async () => {
      const r = (await fakeDist({ 'index.html': 'x' })).manifest;
      await store.insertRelease(r, 1);
      await store.putChannel('demo', 'stable', { release: r.id }, 2);
      await store.upsertClient({ id: 'client-1234', app: 'demo', channel: 'stable', release: null, staged: null, caps: { sync: true, periodicSync: false }, lastSeen: 3 });
      await store.upsertClient({ id: 'client-1234', app: 'demo', channel: 'stable', release: r.id, staged: null, caps: { sync: true, periodicSync: false }, lastSeen: 4 });
      await store.insertReports([{ client: 'client-1234', app: 'demo', release: r.id, event: 'failed', code: 'quota', at: 5 }], 5);
      await store.putBlob('a'.repeat(64), 7);
      await store.close();

      store = await open(dir);
      expect((await store.getRelease(r.id))?.seq).toBe(1);
      expect((await store.getChannel('demo', 'stable'))?.release).toBe(r.id);
      expect(await store.countClients()).toEqual([{ channel: 'stable', release: r.id, count: 1 }]);
      expect(await store.reportCounts()).toEqual([{ release: r.id, event: 'failed', code: 'quota', count: 1 }]);
      expect(await store.recentReports(10)).toEqual([{ client: 'client-1234', release: r.id, event: 'failed', code: 'quota', at: 5 }]);
      expect(await store.missingBlobs(['a'.repeat(64), 'b'.repeat(64), 'b'.repeat(64)])).toEqual(['b'.repeat(64)]);
      expect(await store.hasBlobs(['a'.repeat(64)])).toBe(true);
    });
  });
}

storeContract('SqliteStore', openSqliteStore);

it('SqliteStore runs in WAL mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-store-'));
  const store = openSqliteStore(dir);
  expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  store.db.close();
  rmSync(dir, { recursive: true, force: true });
});
