import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Report } from '../protocol/index.js';
import { generateToken } from './admin-token.js';
import { fakeDist } from './fake-dist.js';
import type { ClientRecord, Store } from './store.js';

export interface StoreFixture {
  /**
   * Opens the store kept at `dir` (a fresh temp dir per test): empty the first time, the same
   * data when opened again after a close, and a second handle on the same data while one is open.
   */
  open(dir: string): Store | Promise<Store>;
  /** Deletes what `open` created for `dir` beyond the dir itself (e.g. a database). */
  remove?(dir: string): void | Promise<void>;
}

/**
 * The `Store` contract, run by each implementation's test file against its own fixture
 * (`store.test.ts`: SQLite, `postgres-store.test.ts`: PostgreSQL).
 */
export function storeContract(name: string, fixture: StoreFixture): void {
  describe(name, () => {
    let dir: string;
    let store: Store;
    const extra: Store[] = [];
    const open = async () => {
      const s = await fixture.open(dir);
      extra.push(s);
      return s;
    };
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'updraft-store-'));
      store = await fixture.open(dir);
    });
    afterEach(async () => {
      await store.close();
      for (const s of extra.splice(0)) await s.close();
      await fixture.remove?.(dir);
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
      expect(await store.latestRelease('nope')).toBeNull();
      expect((await store.listReleases('a')).map((r) => r.seq)).toEqual([1, 2]);
      expect((await store.listReleases()).map((r) => [r.manifest.app, r.seq, r.publishedAt])).toEqual([['a', 1, 1], ['a', 2, 3], ['b', 1, 2]]);
      expect(await store.listApps()).toEqual(['a', 'b']);
      expect((await store.getRelease(a1.id))?.manifest).toEqual(a1);
      expect(await store.getRelease('ffffffffffffffff')).toBeNull();
    });

    it('records the form of a release\'s id: covering sw.js (since protocol 0.6) or the app\'s files only; read back by every read, and by another handle', async () => {
      const current = (await fakeDist({ 'index.html': 'new' }, { sw: 'self.x=1' })).manifest;
      const legacy = (await fakeDist({ 'index.html': 'old' }, { sw: 'self.x=1', legacyId: true })).manifest;
      const noWorker = (await fakeDist({ 'index.html': 'none' })).manifest;
      for (const [i, m] of [legacy, current, noWorker].entries()) await store.insertRelease(m, i + 1);
      const expected = [[legacy.id, false], [current.id, true], [noWorker.id, false]];
      expect((await store.listReleases('demo')).map((r) => [r.manifest.id, r.idCoversSw])).toEqual(expected);
      for (const [id, covers] of expected) expect((await store.getRelease(id as string))?.idCoversSw).toBe(covers);
      expect((await store.latestRelease('demo'))?.idCoversSw).toBe(false);
      const other = await open();
      expect((await other.getRelease(current.id))?.idCoversSw).toBe(true);
    });

    it('two handles publishing at once give every release its own seq, 1..n per app', async () => {
      const other = await open();
      const manifests = await Promise.all(
        Array.from({ length: 24 }, (_, i) => fakeDist({ 'index.html': `r${i}` }, { app: i % 3 === 0 ? 'solo' : 'busy' }).then((d) => d.manifest)),
      );
      // Every release twice, once through each handle, all in flight together.
      const results = await Promise.all(manifests.flatMap((m, i) => [store.insertRelease(m, i), other.insertRelease(m, i)]));
      expect(results.filter((r) => r.created)).toHaveLength(manifests.length);
      for (const app of ['busy', 'solo']) {
        const seqs = (await store.listReleases(app)).map((r) => r.seq);
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      }
      for (let i = 0; i < manifests.length; i++) expect(results[2 * i]!.seq).toBe(results[2 * i + 1]!.seq);
    });

    it('channels: previous becomes the old release when the release changes, omitted fields kept', async () => {
      const r1 = (await fakeDist({ 'index.html': '1' })).manifest;
      const r2 = (await fakeDist({ 'index.html': '2' })).manifest;
      await store.insertRelease(r1, 1);
      await store.insertRelease(r2, 2);
      expect(await store.putChannel('demo', 'stable', { release: r1.id }, 10)).toEqual({
        name: 'stable', app: 'demo', release: r1.id, previous: null, percent: 100, activation: 'next-navigation', paused: false, pausedReason: null, minimum: null, sampleSince: 10, updatedAt: 10,
      });
      expect(await store.putChannel('demo', 'stable', { release: r2.id, percent: 10, activation: 'prompt' }, 11)).toMatchObject({ release: r2.id, previous: r1.id, percent: 10 });
      // Same release: only the percentage moves, previous stays.
      expect(await store.putChannel('demo', 'stable', { release: r2.id, percent: 50 }, 12)).toMatchObject({ release: r2.id, previous: r1.id, percent: 50, activation: 'prompt', updatedAt: 12 });
      // A fractional percentage survives as is.
      expect((await store.putChannel('demo', 'stable', { release: r2.id, percent: 12.5 }, 13)).percent).toBe(12.5);
      // Back to r1: r2 becomes previous.
      expect(await store.putChannel('demo', 'stable', { release: r1.id }, 14)).toMatchObject({ release: r1.id, previous: r2.id, percent: 12.5 });
      expect(await store.getChannel('demo', 'stable')).toEqual({
        name: 'stable', app: 'demo', release: r1.id, previous: r2.id, percent: 12.5, activation: 'prompt', paused: false, pausedReason: null, minimum: null, sampleSince: 14, updatedAt: 14,
      });
      expect(await store.getChannel('demo', 'beta')).toBeNull();
    });

    it('channels: pause and resume, a reason only while paused, a new release resumes, minimum kept until cleared', async () => {
      const [r1, r2, r3] = await Promise.all(['1', '2', '3'].map(async (x) => (await fakeDist({ 'index.html': x })).manifest));
      for (const r of [r1!, r2!, r3!]) await store.insertRelease(r, 1);
      await store.putChannel('demo', 'stable', { release: r1!.id }, 1);
      await store.putChannel('demo', 'stable', { release: r2!.id, percent: 10, minimum: r1!.id }, 2);
      expect(await store.putChannel('demo', 'stable', { release: r2!.id, paused: true, pausedReason: 'looks bad' }, 3))
        .toMatchObject({ release: r2!.id, previous: r1!.id, percent: 10, paused: true, pausedReason: 'looks bad', minimum: r1!.id });
      // Other fields move while paused; the pause and its reason stay.
      expect(await store.putChannel('demo', 'stable', { release: r2!.id, percent: 20 }, 4)).toMatchObject({ paused: true, pausedReason: 'looks bad', percent: 20 });
      expect(await store.putChannel('demo', 'stable', { release: r2!.id, paused: false, pausedReason: 'ignored' }, 5)).toMatchObject({ paused: false, pausedReason: null });
      await store.putChannel('demo', 'stable', { release: r2!.id, paused: true }, 6);
      // A new target starts unpaused; the minimum stays until set to null.
      expect(await store.putChannel('demo', 'stable', { release: r3!.id }, 7)).toMatchObject({ release: r3!.id, previous: r2!.id, paused: false, pausedReason: null, minimum: r1!.id });
      expect(await store.putChannel('demo', 'stable', { release: r1!.id, paused: true }, 8)).toMatchObject({ release: r1!.id, previous: r3!.id, paused: true });
      expect(await store.putChannel('demo', 'stable', { release: r1!.id, minimum: null }, 9)).toMatchObject({ minimum: null, paused: true });
      expect(await store.getChannel('demo', 'stable')).toMatchObject({ release: r1!.id, paused: true, pausedReason: null, minimum: null, updatedAt: 9 });
    });

    it('putChannel without a release keeps the channel\'s own; on a channel that does not exist it is unknown_channel', async () => {
      const [r1, r2] = await Promise.all(['1', '2'].map(async (x) => (await fakeDist({ 'index.html': x })).manifest));
      for (const r of [r1!, r2!]) await store.insertRelease(r, 1);
      await expect(store.putChannel('demo', 'stable', { percent: 5 }, 1)).rejects.toMatchObject({ code: 'unknown_channel' });
      expect(await store.getChannel('demo', 'stable')).toBeNull();
      await store.putChannel('demo', 'stable', { release: r1!.id }, 2);
      await store.putChannel('demo', 'stable', { release: r2!.id, percent: 10 }, 3);
      expect(await store.putChannel('demo', 'stable', { paused: true, percent: 5 }, 4)).toMatchObject({ release: r2!.id, previous: r1!.id, percent: 5, paused: true });
      expect(await store.getChannel('demo', 'stable')).toMatchObject({ release: r2!.id, previous: r1!.id, percent: 5, paused: true, updatedAt: 4 });
    });

    it('pauseChannel pauses only a channel still on that release and not paused yet', async () => {
      const [r1, r2] = await Promise.all(['1', '2'].map(async (x) => (await fakeDist({ 'index.html': x })).manifest));
      for (const r of [r1!, r2!]) await store.insertRelease(r, 1);
      await store.putChannel('demo', 'stable', { release: r2!.id }, 1);
      expect(await store.pauseChannel('demo', 'stable', r1!.id, 'stale', 2)).toBeNull();
      expect(await store.pauseChannel('demo', 'beta', r2!.id, 'no such channel', 2)).toBeNull();
      expect(await store.pauseChannel('demo', 'stable', r2!.id, 'too many failures', 3)).toMatchObject({ release: r2!.id, paused: true, pausedReason: 'too many failures', updatedAt: 3 });
      expect(await store.pauseChannel('demo', 'stable', r2!.id, 'again', 4)).toBeNull();
      expect(await store.getChannel('demo', 'stable')).toMatchObject({ paused: true, pausedReason: 'too many failures', updatedAt: 3 });
    });

    it('releaseHealth counts distinct clients: sample from downloaded/activated/failed, failures from failed/boot-failed', async () => {
      const r = (c: string, event: Report['event'], release = 'aaaaaaaaaaaaaaaa', app = 'demo'): Report => ({ client: c, app, release, event, at: 1 });
      await store.insertReports([
        r('c1', 'downloaded'), r('c1', 'activated'), r('c2', 'downloaded'), r('c2', 'failed'), r('c2', 'failed'),
        r('c3', 'activated'), r('c3', 'boot-failed'), r('c4', 'rejected'), r('c5', 'failed'),
        r('c6', 'failed', 'bbbbbbbbbbbbbbbb'), r('c7', 'failed', 'aaaaaaaaaaaaaaaa', 'other'),
      ], 1);
      expect(await store.releaseHealth('demo', 'aaaaaaaaaaaaaaaa')).toEqual({ clients: 4, failed: 3 });
      expect(await store.releaseHealth('demo', 'cccccccccccccccc')).toEqual({ clients: 0, failed: 0 });
      // Only reports received at or after `since` (server clock) count.
      await store.insertReports([r('c8', 'activated'), r('c9', 'failed'), r('c1', 'failed')], 50);
      expect(await store.releaseHealth('demo', 'aaaaaaaaaaaaaaaa')).toEqual({ clients: 6, failed: 5 });
      expect(await store.releaseHealth('demo', 'aaaaaaaaaaaaaaaa', 50)).toEqual({ clients: 3, failed: 2 });
      expect(await store.releaseHealth('demo', 'aaaaaaaaaaaaaaaa', 51)).toEqual({ clients: 0, failed: 0 });
    });

    it('releaseHealth leaves out failures that say nothing about the release (an expired plan, a full disk, a newer plan, a withdrawal)', async () => {
      const r = (c: string, event: Report['event'], code?: Report['code']): Report => ({ client: c, app: 'demo', release: 'aaaaaaaaaaaaaaaa', event, at: 1, ...(code ? { code } : {}) });
      await store.insertReports([
        r('c1', 'activated'), r('c2', 'failed', 'content'), r('c3', 'failed', 'transport'), r('c4', 'boot-failed', 'boot_failed'),
        r('c5', 'failed', 'plan_expired'), r('c6', 'failed', 'quota'), r('c7', 'failed', 'superseded'), r('c8', 'failed', 'withdrawn'),
        // A device whose first plan expired and whose second failed on content counts once, as failed.
        r('c9', 'failed', 'plan_expired'), r('c9', 'failed', 'content'),
        // One that downloaded, then ran out of space: in the sample, not failed.
        r('c10', 'downloaded'), r('c10', 'failed', 'quota'),
      ], 1);
      expect(await store.releaseHealth('demo', 'aaaaaaaaaaaaaaaa')).toEqual({ clients: 5, failed: 4 });
    });

    it('sampleSince: set when the channel is created, moved or resumed; kept by other changes and by pauses', async () => {
      const [r1, r2] = await Promise.all(['1', '2'].map(async (x) => (await fakeDist({ 'index.html': x })).manifest));
      for (const r of [r1!, r2!]) await store.insertRelease(r, 1);
      expect((await store.putChannel('demo', 'stable', { release: r1!.id }, 10)).sampleSince).toBe(10);
      expect((await store.putChannel('demo', 'stable', { release: r1!.id, percent: 50, minimum: r1!.id }, 11)).sampleSince).toBe(10);
      expect((await store.putChannel('demo', 'stable', { release: r2!.id }, 12)).sampleSince).toBe(12);
      expect((await store.pauseChannel('demo', 'stable', r2!.id, 'auto', 13))!.sampleSince).toBe(12);
      expect((await store.putChannel('demo', 'stable', { percent: 20 }, 14)).sampleSince).toBe(12);
      expect((await store.putChannel('demo', 'stable', { paused: false }, 15)).sampleSince).toBe(15);
      expect((await store.putChannel('demo', 'stable', { paused: false }, 16)).sampleSince).toBe(15);
      expect(await store.getChannel('demo', 'stable')).toMatchObject({ sampleSince: 15, updatedAt: 16 });
    });

    it('two handles moving one channel at once: neither move is lost, each sees the other as previous', async () => {
      const other = await open();
      const [r1, r2, r3] = await Promise.all(['1', '2', '3'].map(async (x) => (await fakeDist({ 'index.html': x })).manifest));
      for (const r of [r1!, r2!, r3!]) await store.insertRelease(r, 1);
      await store.putChannel('demo', 'stable', { release: r1!.id }, 1);
      await Promise.all([store.putChannel('demo', 'stable', { release: r2!.id }, 2), other.putChannel('demo', 'stable', { release: r3!.id }, 2)]);
      const ch = (await other.getChannel('demo', 'stable'))!;
      expect(new Set([ch.release, ch.previous])).toEqual(new Set([r2!.id, r3!.id]));
    });

    it('minimum: never newer than the release; a new minimum or a roll back below it is minimum_ahead unless the change gives one that fits; a pause is never refused', async () => {
      const [r1, r2, r3] = await Promise.all(['1', '2', '3'].map(async (x) => (await fakeDist({ 'index.html': x })).manifest));
      for (const r of [r1!, r2!, r3!]) await store.insertRelease(r, 1);
      await store.putChannel('demo', 'stable', { release: r2!.id }, 1);
      // A minimum the channel does not offer yet: refused, and nothing written.
      await expect(store.putChannel('demo', 'stable', { minimum: r3!.id }, 2)).rejects.toMatchObject({ code: 'minimum_ahead', details: { minimum: r3!.id, release: r2!.id } });
      await expect(store.putChannel('demo', 'stable', { release: r1!.id, minimum: r2!.id }, 2)).rejects.toMatchObject({ code: 'minimum_ahead' });
      expect(await store.getChannel('demo', 'stable')).toMatchObject({ release: r2!.id, minimum: null, updatedAt: 1 });
      // The same minimum with a release that offers it: fine (the target itself is a minimum).
      expect(await store.putChannel('demo', 'stable', { release: r3!.id, minimum: r3!.id }, 3)).toMatchObject({ release: r3!.id, minimum: r3!.id });
      // A roll back below the minimum it leaves: refused unless it says what the minimum becomes.
      await expect(store.putChannel('demo', 'stable', { release: r2!.id }, 4)).rejects.toMatchObject({ code: 'minimum_ahead', details: { minimum: r3!.id, release: r2!.id } });
      expect(await store.getChannel('demo', 'stable')).toMatchObject({ release: r3!.id, minimum: r3!.id });
      expect(await store.putChannel('demo', 'stable', { release: r2!.id, minimum: r1!.id }, 5)).toMatchObject({ release: r2!.id, previous: r3!.id, minimum: r1!.id });
      await store.putChannel('demo', 'stable', { release: r3!.id, minimum: r3!.id }, 6);
      expect(await store.putChannel('demo', 'stable', { release: r1!.id, minimum: null }, 7)).toMatchObject({ release: r1!.id, minimum: null });
      // A change that neither moves the channel nor sets a minimum is never refused for it.
      expect(await store.putChannel('demo', 'stable', { paused: true, percent: 50 }, 8)).toMatchObject({ release: r1!.id, paused: true, percent: 50 });
    });

    it('forwardOnly: never moves the channel to an older release (nothing written), also when two handles race; without it a roll back moves it', async () => {
      const other = await open();
      const [r1, r2, r3] = await Promise.all(['1', '2', '3'].map(async (x) => (await fakeDist({ 'index.html': x })).manifest));
      for (const r of [r1!, r2!, r3!]) await store.insertRelease(r, 1);
      // Creating a channel and moving it forward are what a publish does.
      expect(await store.putChannel('demo', 'stable', { release: r1!.id, forwardOnly: true }, 1)).toMatchObject({ release: r1!.id, previous: null });
      // The newer publish commits first, the older one after it: the older is left out, nothing written.
      expect(await store.putChannel('demo', 'stable', { release: r3!.id, percent: 100, forwardOnly: true }, 2)).toMatchObject({ release: r3!.id, previous: r1!.id });
      expect(await other.putChannel('demo', 'stable', { release: r2!.id, percent: 10, forwardOnly: true }, 3)).toMatchObject({ release: r3!.id, previous: r1!.id, percent: 100, updatedAt: 2 });
      expect(await store.getChannel('demo', 'stable')).toMatchObject({ release: r3!.id, previous: r1!.id, percent: 100, updatedAt: 2 });
      // Two handles at once, each order: the newer release is the target whichever commits last.
      for (let i = 0; i < 4; i++) {
        await store.putChannel('demo', 'stable', { release: r1!.id }, 10 + i);
        const moves = [store.putChannel('demo', 'stable', { release: r2!.id, forwardOnly: true }, 20 + i), other.putChannel('demo', 'stable', { release: r3!.id, forwardOnly: true }, 20 + i)];
        await Promise.all(i % 2 ? moves : moves.reverse());
        expect(await other.getChannel('demo', 'stable')).toMatchObject({ release: r3!.id });
      }
      // The same release again (a publish run twice) is not older: its other fields apply.
      expect(await store.putChannel('demo', 'stable', { release: r3!.id, percent: 40, forwardOnly: true }, 30)).toMatchObject({ release: r3!.id, percent: 40 });
      // An explicit roll back (no forwardOnly) moves it back.
      expect(await store.putChannel('demo', 'stable', { release: r2!.id }, 31)).toMatchObject({ release: r2!.id, previous: r3!.id });
    });

    it('changeCounter, when present, moves with each publish and channel change, not with check-ins or reports', async () => {
      if (!store.changeCounter) return;
      const counter = () => store.changeCounter!();
      const r = (await fakeDist({ 'index.html': 'x' })).manifest;
      let last = counter();
      const moved = () => {
        const now = counter();
        const changed = now !== last;
        last = now;
        return changed;
      };
      await store.insertRelease(r, 1);
      expect(moved()).toBe(true);
      await store.putChannel('demo', 'stable', { release: r.id }, 2);
      expect(moved()).toBe(true);
      await store.putChannel('demo', 'stable', { release: r.id, percent: 5 }, 3);
      expect(moved()).toBe(true);
      await store.upsertClient({ id: 'client-0001', app: 'demo', channel: 'stable', release: r.id, staged: null, caps: { sync: false, periodicSync: false }, lastSeen: 4 });
      await store.insertReports([{ client: 'client-0001', app: 'demo', release: r.id, event: 'activated', at: 5 }], 5);
      await store.putBlob('c'.repeat(64), 1);
      expect(moved()).toBe(false);
    });

    it('upsertClients, when present: one batch, the last record of a client wins', async () => {
      if (!store.upsertClients) return;
      const c = (id: string, release: string | null, lastSeen: number, app = 'demo'): ClientRecord =>
        ({ id, app, channel: 'stable', release, staged: null, caps: { sync: true, periodicSync: false }, lastSeen });
      await store.upsertClient(c('client-0001', null, 1));
      await store.upsertClients([c('client-0001', 'aaaaaaaaaaaaaaaa', 2), c('client-0002', null, 2), c('client-0001', 'bbbbbbbbbbbbbbbb', 3), c('client-0001', null, 3, 'other')]);
      await store.upsertClients([]);
      // Equal counts come in no particular order.
      const demo = (await store.countClients('demo')).sort((x, y) => String(x.release).localeCompare(String(y.release)));
      expect(demo).toEqual([{ channel: 'stable', release: 'bbbbbbbbbbbbbbbb', count: 1 }, { channel: 'stable', release: null, count: 1 }]);
      expect(await store.countClients('other')).toEqual([{ channel: 'stable', release: null, count: 1 }]);
    });

    it('upsertClients, a batch larger than one statement: every row, the last record of a client wins across statements', async () => {
      if (!store.upsertClients) return;
      const c = (i: number, release: string): ClientRecord =>
        ({ id: `client-${String(i).padStart(4, '0')}`, app: 'demo', channel: 'stable', release, staged: null, caps: { sync: true, periodicSync: false }, lastSeen: i });
      // 250 distinct clients on release a, then the first 30 again (in the third hundred) on release b.
      const rows = [...Array.from({ length: 250 }, (_, i) => c(i, 'aaaaaaaaaaaaaaaa')), ...Array.from({ length: 30 }, (_, i) => c(i, 'bbbbbbbbbbbbbbbb'))];
      await store.upsertClients(rows);
      const counts = (await store.countClients('demo')).sort((x, y) => String(x.release).localeCompare(String(y.release)));
      expect(counts).toEqual([{ channel: 'stable', release: 'aaaaaaaaaaaaaaaa', count: 220 }, { channel: 'stable', release: 'bbbbbbbbbbbbbbbb', count: 30 }]);
    });

    it('lists and counts per app, in the same order on every store', async () => {
      const a = (await fakeDist({ 'index.html': 'a' }, { app: 'a' })).manifest;
      const b = (await fakeDist({ 'index.html': 'b' }, { app: 'B' })).manifest;
      await store.insertRelease(a, 1);
      await store.insertRelease(b, 1);
      // Byte order: upper case first, whatever the database's locale.
      for (const name of ['beta', 'Alpha', 'stable']) await store.putChannel('a', name, { release: a.id }, 2);
      await store.putChannel('B', 'stable', { release: b.id }, 2);
      expect(await store.listApps()).toEqual(['B', 'a']);
      expect((await store.listChannels()).map((c) => `${c.app}/${c.name}`)).toEqual(['B/stable', 'a/Alpha', 'a/beta', 'a/stable']);
      expect((await store.listChannels('B')).map((c) => c.name)).toEqual(['stable']);

      const client = (id: string, app: string, release: string | null, channel = 'stable'): ClientRecord =>
        ({ id, app, channel, release, staged: null, caps: { sync: false, periodicSync: false }, lastSeen: 3 });
      for (const c of [client('client-0001', 'a', a.id), client('client-0002', 'a', a.id), client('client-0003', 'a', null), client('client-0004', 'a', a.id, 'beta'), client('client-0001', 'B', b.id)]) {
        await store.upsertClient(c);
      }
      expect(await store.countClients('a')).toEqual([{ channel: 'beta', release: a.id, count: 1 }, { channel: 'stable', release: a.id, count: 2 }, { channel: 'stable', release: null, count: 1 }]);
      expect(await store.countClients('B')).toEqual([{ channel: 'stable', release: b.id, count: 1 }]);
      expect(await store.countClients('none')).toEqual([]);

      const report = (app: string, release: string, event: Report['event'], code?: Report['code'], at = 5): Report =>
        ({ client: 'client-0001', app, release, event, ...(code ? { code } : {}), at });
      await store.insertReports([report('a', a.id, 'failed', 'quota', 1), report('a', a.id, 'failed', undefined, 2), report('a', a.id, 'downloaded', undefined, 3)], 10);
      await store.insertReports([report('B', b.id, 'activated', undefined, 4)], 11);
      await store.insertReports([], 12);
      // A missing code sorts first, as SQLite sorts NULL.
      expect(await store.reportCounts('a')).toEqual([
        { release: a.id, event: 'downloaded', code: null, count: 1 },
        { release: a.id, event: 'failed', code: null, count: 1 },
        { release: a.id, event: 'failed', code: 'quota', count: 1 },
      ]);
      // Newest first, also within one batch.
      expect((await store.recentReports(10)).map((r) => r.at)).toEqual([4, 3, 2, 1]);
      expect((await store.recentReports(2, 'a')).map((r) => r.at)).toEqual([3, 2]);
    });

    it('channelActivations: activated and boot-failed reports of that app, each with its client\'s channel now, newest first, at most limit', async () => {
      const a = (await fakeDist({ 'index.html': 'a' }, { app: 'a' })).manifest;
      const client = (id: string, app: string, channel: string): ClientRecord =>
        ({ id, app, channel, release: a.id, staged: null, caps: { sync: false, periodicSync: false }, lastSeen: 3 });
      // client-0001 on stable (its later record wins over beta), client-0002 on beta, client-0003 on
      // stable of another app, client-0004 never checked in.
      for (const c of [client('client-0001', 'a', 'beta'), client('client-0001', 'a', 'stable'), client('client-0002', 'a', 'beta'), client('client-0003', 'B', 'stable')]) await store.upsertClient(c);
      const report = (c: string, app: string, event: Report['event'], at: number): Report => ({ client: c, app, release: a.id, event, ...(event === 'boot-failed' ? { code: 'boot_failed' as const } : {}), at });
      await store.insertReports([
        report('client-0001', 'a', 'downloaded', 1), report('client-0001', 'a', 'activated', 2), report('client-0002', 'a', 'activated', 3),
        report('client-0003', 'a', 'activated', 4), report('client-0003', 'B', 'activated', 5), report('client-0004', 'a', 'activated', 6),
        report('client-0001', 'a', 'failed', 7), report('client-0001', 'a', 'boot-failed', 8),
      ], 10);
      expect(await store.channelActivations('a', 10)).toEqual([
        { client: 'client-0001', release: a.id, event: 'boot-failed', code: 'boot_failed', at: 8, channel: 'stable' },
        { client: 'client-0002', release: a.id, event: 'activated', code: null, at: 3, channel: 'beta' },
        { client: 'client-0001', release: a.id, event: 'activated', code: null, at: 2, channel: 'stable' },
      ]);
      expect((await store.channelActivations('a', 2)).map((r) => r.at)).toEqual([8, 3]);
      expect(await store.channelActivations('B', 10)).toEqual([{ client: 'client-0003', release: a.id, event: 'activated', code: null, at: 5, channel: 'stable' }]);
      expect(await store.channelActivations('none', 10)).toEqual([]);
    });

    it('keeps what clients send as SQLite does: a fractional clock, a NUL in a message', async () => {
      const r = (await fakeDist({ 'index.html': 'x' })).manifest;
      await store.insertReports([{ client: 'client-1234', app: 'demo', release: r.id, event: 'failed', code: 'content', message: 'bad\0byte', planId: 'plan\0', at: 1.5 }], 5);
      expect(await store.recentReports(1)).toEqual([{ client: 'client-1234', release: r.id, event: 'failed', code: 'content', at: 1.5 }]);
    });

    it('blobs: sizes of the known ones among many, duplicates and unknowns', async () => {
      const hashes = Array.from({ length: 2500 }, (_, i) => i.toString(16).padStart(64, '0'));
      for (const [i, sha] of hashes.slice(0, 3).entries()) await store.putBlob(sha, i * 1_000_000_000);
      await store.putBlob(hashes[0]!, 99); // already known: kept as first recorded
      const sizes = await store.blobSizes([...hashes, hashes[1]!]);
      expect([...sizes].sort()).toEqual([[hashes[0], 0], [hashes[1], 1_000_000_000], [hashes[2], 2_000_000_000]]);
      expect(await store.missingBlobs([hashes[2]!, hashes[3]!, hashes[3]!])).toEqual([hashes[3]]);
      expect(await store.hasBlobs(hashes.slice(0, 3))).toBe(true);
      expect(await store.hasBlobs([])).toBe(true);
    });

    it('tokens: stored by id with hash and scopes, seen by a second handle, kept across a restart, deleted once', async () => {
      const a = generateToken(['publish', 'rollout'], 'ci', 10).stored;
      const b = generateToken(['read'], null, 11).stored;
      await store.insertToken(a);
      // Another process (`updraft tokens create` beside a running server) sees it at once.
      const other = await open();
      await other.insertToken(b);
      expect(await store.getToken(a.id)).toEqual(a);
      expect(await store.getToken(b.id)).toEqual({ id: b.id, sha256: b.sha256, scopes: ['read'], name: null, createdAt: 11 });
      expect(await store.getToken('0'.repeat(16))).toBeNull();
      expect(await store.listTokens()).toEqual([a, b]);
      await expect(store.insertToken({ ...b, sha256: 'f'.repeat(64) })).rejects.toThrow();
      expect((await store.getToken(b.id))?.sha256).toBe(b.sha256);
      await store.close();
      store = await fixture.open(dir);
      expect(await store.listTokens()).toEqual([a, b]);
      expect(await store.deleteToken(a.id)).toBe(true);
      expect(await store.deleteToken(a.id)).toBe(false);
      expect(await other.getToken(a.id)).toBeNull();
      expect(await store.listTokens()).toEqual([b]);
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

      store = await fixture.open(dir);
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
