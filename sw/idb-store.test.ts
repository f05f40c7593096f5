/**
 * The `SwStore` contract against `IdbStore` on fake-indexeddb, an implementation of the IndexedDB
 * spec that runs in Node: the transactions and indexes the worker relies on, checked without a
 * browser. Chromium's own IndexedDB is exercised by every e2e test.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openDB } from 'idb';
import { DB_VERSION, openIdbStore } from './idb-store.js';
import { describeStore } from './store-contract.js';
import { buildPlan, buildRelease } from './testing.js';

let n = 0;
describeStore('IdbStore (fake-indexeddb)', () => openIdbStore(`updraft-test-${n++}`));

describe('IdbStore across restarts', () => {
  it('an open store lets go of its connection when a newer schema is opened (a new worker\'s upgrade does not wait on the old worker)', async () => {
    const name = `updraft-upgrade-${n++}`;
    const old = await openIdbStore(name);
    await old.setMeta('nextCheckInAt', 1);
    const upgraded = await openDB(name, DB_VERSION + 1, { upgrade: () => {} });
    expect(upgraded.version).toBe(DB_VERSION + 1);
    upgraded.close();
  });

  it('a plan, its task states and its applied flag survive a reopen (a killed worker), and a new plan replaces them', async () => {
    const name = `updraft-restart-${n++}`;
    const r2 = await buildRelease({ 'index.html': '2' });
    const plan = buildPlan(r2);
    const a = await openIdbStore(name);
    await a.putPlan({ plan, receivedAt: 1, applied: false, failure: null, tasks: { 'fetch-0': { id: 'fetch-0', state: 'done', attempts: 1, nextAttemptAt: 0, lastError: null } } });
    await a.updatePlan(plan.planId, { applied: true });
    const b = await openIdbStore(name);
    const stored = await b.getPlan();
    expect(stored?.plan).toEqual(plan);
    expect(stored?.applied).toBe(true);
    expect(stored?.tasks['fetch-0']?.state).toBe('done');
    const r3 = await buildRelease({ 'index.html': '3' });
    const next = buildPlan(r3, { planId: 'p3' });
    await b.putPlan({ plan: next, receivedAt: 2, applied: false, failure: null, tasks: {} });
    const c = await openIdbStore(name);
    expect((await c.getPlan())?.plan.planId).toBe('p3');
    expect((await c.getPlan())?.applied).toBe(false);
  });
});
