/**
 * Garbage collection: forget pins of closed windows (absent for `ABSENT_GRACE_MS`), then delete parts and release records that no
 * release still in use needs (active, staged, previous, pinned, or the current plan's target).
 * `previous` is what a failed boot returns to: it stays at least until the new release is confirmed.
 *
 * It runs beside everything else (a check-in accepting a plan, the task runner fetching and
 * staging, an activation, a rollback), and nothing holds those back while it awaits the store and
 * the cache: a plan accepted then needs parts that gc, which read no such plan, would delete, and
 * once staged its release record too. Only a plan brings a release into use that gc did not read
 * as in use: its target becomes staged, then active, then previous (or active again in a
 * rollback), and a page pinned since names one of those. So:
 * - gc reads the plan, then the pointers, then the pins: a release that moves on between two reads
 *   moves to what a later read sees;
 * - `acceptPlan` counts plans (`ctx.plansAccepted`) before it stores one. gc compares the count
 *   with the one it started its pass from right before each delete, with no await in between, and
 *   starts the pass over when it moved. A plan accepted after a delete was issued finds that part
 *   gone and fetches it.
 * Not a lock around those writes: an update or a user's apply never waits for a collection.
 * Every delete is of something unused when it was issued, and release records go last: a worker
 * killed in the middle leaves only garbage, which the next worker's start collects.
 */
import { partKey } from './adapter.js';
import { loadRelease, type SwContext } from './context.js';
import type { Pin } from './store.js';

/** A navigation's resulting client may not be listed yet: keep young pins. */
export const PIN_GRACE_MS = 60_000;

/**
 * How long a pin outlives its client's absence from `clients.matchAll`, counted from the first
 * collection that missed it. A page in the back-forward cache is not listed (Chromium 150,
 * e2e/routing.spec.ts), yet Back restores it as it was, and its next request must still get its
 * release: dropped, the page was pinned again to the active release and mixed two. Chromium keeps
 * such a page at most 10 minutes (`kDefaultTimeToLiveInBackForwardCacheInSeconds`, 600 s).
 */
export const ABSENT_GRACE_MS = 15 * 60_000;

export interface GcResult {
  pinsDropped: string[];
  partsDeleted: number;
  releasesDeleted: string[];
}

export async function collectGarbage(ctx: SwContext): Promise<GcResult> {
  const { store, adapter } = ctx;
  const now = adapter.now();
  // Before the first install finished nothing is referenced yet, and install may be copying parts right now.
  if ((await store.pointers()).active === null) return { pinsDropped: [], partsDeleted: 0, releasesDeleted: [] };
  // Workers too: a page's dedicated worker is pinned to its page's release (runtime.ts).
  const live = new Set(await adapter.clientIds());
  const pins = await store.pins();
  const dropped: Pin[] = [];
  for (const p of pins) {
    const { absentSince, ...seen } = p;
    if (live.has(p.clientId)) {
      // Back from the back-forward cache: a later absence counts from then.
      if (absentSince !== undefined) await store.putPin(seen);
    } else if (now - p.createdAt <= PIN_GRACE_MS) {
      continue;
    } else if (absentSince === undefined) {
      await store.putPin({ ...p, absentSince: now });
    } else if (now - absentSince > ABSENT_GRACE_MS) {
      dropped.push(p);
    }
  }
  if (dropped.length > 0) {
    await store.deletePins(dropped.map((p) => p.clientId));
    for (const p of dropped) {
      ctx.pins.delete(p.clientId);
      ctx.fromNetwork.delete(p.clientId);
    }
  }

  // A pass that a plan accepted under it stopped starts over; plans come from check-ins, a few a day.
  let partsDeleted = 0;
  let sweep;
  do {
    sweep = await collectOnce(ctx);
    partsDeleted += sweep.partsDeleted;
  } while (!sweep.done);
  const { releasesDeleted } = sweep;
  if (dropped.length || partsDeleted || releasesDeleted.length) {
    ctx.log.info(`gc: ${dropped.length} pins, ${partsDeleted} parts, ${releasesDeleted.length} releases dropped`);
  }
  return { pinsDropped: dropped.map((p) => p.clientId), partsDeleted, releasesDeleted };
}

/** One pass; `done` false when a plan was accepted before it finished (it stopped deleting then). */
async function collectOnce(ctx: SwContext): Promise<{ done: boolean; partsDeleted: number; releasesDeleted: string[] }> {
  const { store, parts, urls } = ctx;
  const accepted = ctx.plansAccepted;
  const moved = () => ctx.plansAccepted !== accepted;
  // In this order (see the top of the file).
  const plan = await store.getPlan();
  const ptr = await store.pointers();
  const boot = await store.getMeta('boot');
  const pins = await store.pins();
  const keepIds = new Set<string>();
  for (const id of [ptr.active, ptr.staged, ptr.previous, boot?.previous]) if (id) keepIds.add(id);
  // The pins of closed windows are gone by now (`collectGarbage`).
  for (const p of pins) keepIds.add(p.release);

  const keepKeys = new Set<string>();
  for (const id of keepIds) {
    const release = await loadRelease(ctx, id);
    for (const a of release?.assets ?? []) keepKeys.add(partKey(urls.scope, a.sha256));
  }
  if (plan && !plan.failure) {
    for (const a of plan.plan.release.assets) keepKeys.add(partKey(urls.scope, a.sha256));
  }

  let partsDeleted = 0;
  for (const key of await parts.keys()) {
    if (keepKeys.has(key)) continue;
    // Checked right before the delete is issued: no plan can be stored in between.
    if (moved()) return { done: false, partsDeleted, releasesDeleted: [] };
    if (await parts.delete(key)) partsDeleted++;
  }
  const releasesDeleted = (await store.releaseIds()).filter((id) => !keepIds.has(id) && id !== plan?.plan.to);
  if (moved()) return { done: false, partsDeleted, releasesDeleted: [] };
  if (releasesDeleted.length > 0) {
    await store.deleteReleases(releasesDeleted);
    for (const id of releasesDeleted) ctx.releases.delete(id);
  }
  return { done: true, partsDeleted, releasesDeleted };
}
