/**
 * The `SwStore` contract. Runs against `MemoryStore` here; `IdbStore` needs a real IndexedDB and is
 * exercised by the Chromium e2e tests (pass `describeStore` another factory to run it elsewhere).
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
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

describeStore('memory', async () => new MemoryStore());
