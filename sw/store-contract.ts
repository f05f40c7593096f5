/**
 * The `SwStore` contract, one suite for both stores: `store.test.ts` runs it against
 * `MemoryStore`, `idb-store.test.ts` against `IdbStore` on fake-indexeddb.
 */
import { describe, expect, it } from 'vitest';
import type { StoredPlan, SwStore } from './store.js';
import { buildPlan, buildRelease } from './testing.js';

export function describeStore(name: string, make: () => Promise<SwStore>): void {
  describe(`SwStore: ${name}`, () => {
    it('keeps meta values', async () => {
      const s = await make();
      expect(await s.getMeta('clientId')).toBeUndefined();
      await s.setMeta('clientId', 'abcdefgh12345678');
      await s.setMeta('holds', { 'https://cdn.test': 5 });
      expect(await s.getMeta('clientId')).toBe('abcdefgh12345678');
      expect(await s.getMeta('holds')).toEqual({ 'https://cdn.test': 5 });
    });

    it('switches pointers: install → stage → activate', async () => {
      const s = await make();
      const r1 = (await buildRelease({ 'index.html': '1' })).manifest;
      const r2 = (await buildRelease({ 'index.html': '2' })).manifest;
      expect(await s.pointers()).toEqual({ active: null, staged: null, previous: null });
      expect(await s.installInitial(r1)).toEqual({ active: r1.id, staged: null, previous: null });
      expect((await s.installInitial(r2)).active).toBe(r1.id);
      expect(await s.stage(r2)).toEqual({ active: r1.id, staged: r2.id, previous: null });
      expect(await s.activateStaged()).toEqual({ active: r2.id, staged: null, previous: r1.id });
      expect(await s.activateStaged()).toEqual({ active: r2.id, staged: null, previous: r1.id });
      expect((await s.releaseIds()).sort()).toEqual([r1.id, r2.id].sort());
      expect(await s.getRelease(r2.id)).toEqual(r2);
      await s.deleteReleases([r1.id]);
      expect(await s.releaseIds()).toEqual([r2.id]);
    });

    it('watches an activation in the same step, keeps the last confirmed release as previous, rolls back once', async () => {
      const s = await make();
      const [r1, r2, r3] = await Promise.all(['1', '2', '3'].map(async (t) => (await buildRelease({ 'index.html': t })).manifest));
      await s.installInitial(r1!);
      await s.stage(r2!);
      expect(await s.activateStaged(true)).toEqual({ active: r2!.id, staged: null, previous: r1!.id });
      expect(await s.getMeta('boot')).toEqual({ release: r2!.id, previous: r1!.id, deadline: null });
      // r2 never confirmed: activating r3 over it keeps r1 as what a failed boot goes back to.
      await s.stage(r3!);
      expect(await s.activateStaged(true)).toEqual({ active: r3!.id, staged: null, previous: r1!.id });
      expect(await s.startBootClock(r2!.id, 50)).toEqual({ release: r3!.id, previous: r1!.id, deadline: null });
      expect(await s.startBootClock(r3!.id, 50)).toEqual({ release: r3!.id, previous: r1!.id, deadline: 50 });
      expect((await s.startBootClock(r3!.id, 99))?.deadline).toBe(50);

      const report = { client: 'abcdefgh', app: 'demo', release: r3!.id, event: 'boot-failed' as const, code: 'boot_failed' as const, at: 60 };
      expect(await s.rollBack(r2!.id, { ...report, release: r2!.id }, 60)).toBeNull();
      expect(await s.rollBack(r3!.id, report, 60)).toEqual({ active: r1!.id, staged: null, previous: null });
      expect(await s.getMeta('boot')).toBeNull();
      expect(await s.getMeta('badReleases')).toEqual([{ release: r3!.id, at: 60 }]);
      expect((await s.outbox(10)).map((e) => e.report)).toEqual([report]);
      // Only once: the watch is gone.
      expect(await s.rollBack(r3!.id, report, 61)).toBeNull();
      expect(await s.outbox(10)).toHaveLength(1);
    });

    it('confirms only the watched release; an unwatched activation clears the watch', async () => {
      const s = await make();
      const [r1, r2, r3] = await Promise.all(['1', '2', '3'].map(async (t) => (await buildRelease({ 'index.html': t })).manifest));
      await s.installInitial(r1!);
      await s.stage(r2!);
      await s.activateStaged(true);
      expect(await s.confirmBoot(r1!.id)).toBe(false);
      expect(await s.confirmBoot(r2!.id)).toBe(true);
      expect(await s.getMeta('boot')).toBeNull();
      expect(await s.confirmBoot(r2!.id)).toBe(false);
      await s.stage(r3!);
      expect(await s.activateStaged()).toEqual({ active: r3!.id, staged: null, previous: r2!.id });
      expect(await s.getMeta('boot')).toBeNull();
    });

    it('stores a plan with its task records; writes for a replaced plan are ignored', async () => {
      const s = await make();
      const rel = await buildRelease({ 'index.html': 'x', 'a.js': 'y' });
      const plan = buildPlan(rel, { planId: 'one' });
      const stored: StoredPlan = {
        plan, receivedAt: 5, applied: false, failure: null,
        tasks: Object.fromEntries(plan.tasks.map((t) => [t.id, { id: t.id, state: 'pending', attempts: 0, nextAttemptAt: 0, lastError: null }])),
      };
      await s.putPlan(stored);
      expect(await s.getPlan()).toEqual(stored);
      await s.putTasks('one', [{ id: 'fetch-0', state: 'done', attempts: 1, nextAttemptAt: 0, lastError: null }]);
      await s.updatePlan('one', { applied: true });
      const back = await s.getPlan();
      expect(back?.tasks['fetch-0']?.state).toBe('done');
      expect(back?.applied).toBe(true);
      await s.putPlan({ ...stored, plan: { ...plan, planId: 'two' } });
      await s.putTasks('one', [{ id: 'fetch-1', state: 'done', attempts: 1, nextAttemptAt: 0, lastError: null }]);
      await s.updatePlan('one', { failure: { code: 'quota', message: 'x' } });
      const two = await s.getPlan();
      expect(two?.tasks['fetch-1']?.state).toBe('pending');
      expect(two?.failure).toBeNull();
      await s.clearPlan();
      expect(await s.getPlan()).toBeNull();
    });

    it('drops what it holds in one step: plan, tasks and staged, with its reports; active and previous stay', async () => {
      const s = await make();
      const [r1, r2, r3] = await Promise.all(['1', '2', '3'].map(async (t) => (await buildRelease({ 'index.html': t }))));
      await s.installInitial(r1!.manifest);
      await s.stage(r2!.manifest);
      await s.activateStaged(true);
      await s.stage(r3!.manifest);
      const plan = buildPlan(r3!, { planId: 'held' });
      await s.putPlan({ plan, receivedAt: 1, applied: true, failure: null, tasks: { install: { id: 'install', state: 'done', attempts: 1, nextAttemptAt: 0, lastError: null } } });
      const report = { client: 'abcdefgh', app: 'demo', planId: 'held', release: r3!.manifest.id, event: 'dropped' as const, at: 7 };
      expect(await s.dropHeld([report])).toEqual({ active: r2!.manifest.id, staged: null, previous: r1!.manifest.id });
      expect(await s.pointers()).toEqual({ active: r2!.manifest.id, staged: null, previous: r1!.manifest.id });
      expect(await s.getPlan()).toBeNull();
      expect((await s.outbox(10)).map((e) => e.report)).toEqual([report]);
      // The boot watch on the active release is not the withdrawal's to touch.
      expect((await s.getMeta('boot'))?.release).toBe(r2!.manifest.id);
      // An install of the dropped plan that finishes late stages nothing; the current plan's does.
      expect((await s.stage(r3!.manifest, 'held')).staged).toBeNull();
      expect((await s.pointers()).staged).toBeNull();
      await s.putPlan({ plan: buildPlan(r3!, { planId: 'next' }), receivedAt: 2, applied: false, failure: null, tasks: {} });
      expect((await s.stage(r3!.manifest, 'held')).staged).toBeNull();
      expect((await s.stage(r3!.manifest, 'next')).staged).toBe(r3!.manifest.id);
    });

    it('keeps pins and an outbox in order', async () => {
      const s = await make();
      await s.putPin({ clientId: 'c1', release: 'r1', createdAt: 1 });
      await s.putPin({ clientId: 'c2', release: 'r2', createdAt: 2 });
      await s.deletePins(['c1']);
      expect(await s.pins()).toEqual([{ clientId: 'c2', release: 'r2', createdAt: 2 }]);
      const report = (n: number) => ({ client: 'abcdefgh', app: 'demo', release: '0123456789abcdef', event: 'downloaded' as const, at: n });
      await s.addReports([report(1), report(2), report(3)]);
      const first = await s.outbox(2);
      expect(first.map((e) => e.report.at)).toEqual([1, 2]);
      await s.deleteOutbox(first.map((e) => e.id));
      expect((await s.outbox(10)).map((e) => e.report.at)).toEqual([3]);
    });
  });
}

