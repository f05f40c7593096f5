/**
 * Garbage collection: forget pins of closed windows, then delete parts and release records that no
 * release still in use needs (active, staged, previous, pinned, or the current plan's target).
 * `previous` is what a failed boot returns to: it stays at least until the new release is confirmed.
 */
import { partKey } from './adapter.js';
import { loadRelease, type SwContext } from './context.js';

/** A navigation's resulting client may not be listed yet: keep young pins. */
export const PIN_GRACE_MS = 60_000;

export interface GcResult {
  pinsDropped: string[];
  partsDeleted: number;
  releasesDeleted: string[];
}

export async function collectGarbage(ctx: SwContext): Promise<GcResult> {
  const { store, adapter, parts, urls } = ctx;
  const now = adapter.now();
  // Before the first install finished nothing is referenced yet, and install may be copying parts right now.
  if ((await store.pointers()).active === null) return { pinsDropped: [], partsDeleted: 0, releasesDeleted: [] };
  // Workers too: a page's dedicated worker is pinned to its page's release (runtime.ts).
  const live = new Set(await adapter.clientIds());
  const pins = await store.pins();
  const dropped = pins.filter((p) => !live.has(p.clientId) && now - p.createdAt > PIN_GRACE_MS);
  if (dropped.length > 0) {
    await store.deletePins(dropped.map((p) => p.clientId));
    for (const p of dropped) {
      ctx.pins.delete(p.clientId);
      ctx.fromNetwork.delete(p.clientId);
    }
  }

  const ptr = await store.pointers();
  const plan = await store.getPlan();
  const keepIds = new Set<string>();
  const boot = await store.getMeta('boot');
  for (const id of [ptr.active, ptr.staged, ptr.previous, boot?.previous]) if (id) keepIds.add(id);
  for (const p of pins) if (!dropped.includes(p)) keepIds.add(p.release);

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
    if (!keepKeys.has(key) && (await parts.delete(key))) partsDeleted++;
  }
  const releasesDeleted = (await store.releaseIds()).filter((id) => !keepIds.has(id) && id !== plan?.plan.to);
  if (releasesDeleted.length > 0) {
    await store.deleteReleases(releasesDeleted);
    for (const id of releasesDeleted) ctx.releases.delete(id);
  }
  if (dropped.length || partsDeleted || releasesDeleted.length) {
    ctx.log.info(`gc: ${dropped.length} pins, ${partsDeleted} parts, ${releasesDeleted.length} releases dropped`);
  }
  return { pinsDropped: dropped.map((p) => p.clientId), partsDeleted, releasesDeleted };
}
