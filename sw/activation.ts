/** The `activate` task and `updraft:apply`: switch `active` to the staged release in one transaction. */
import type { ActivationPolicy } from '../protocol/index.js';
import { loadRelease, type SwContext } from './context.js';
import { broadcast } from './events.js';
import type { StoredPlan } from './store.js';
import type { TaskOutcome } from './task-outcome.js';

export async function activatePlan(ctx: SwContext, stored: StoredPlan): Promise<TaskOutcome> {
  const { plan } = stored;
  const ptr = await ctx.store.pointers();
  if (ptr.active === plan.to) return { kind: 'done' };
  if (ptr.staged !== plan.to) return { kind: 'fail', code: 'install', message: `release ${plan.to} is not staged` };
  await switchToStaged(ctx, plan.activation);
  return { kind: 'done' };
}

/**
 * previous = active, active = staged, staged = null. Open pages stay pinned to the release that
 * served them; the next navigation gets the new one (`immediate` tells pages to reload).
 * Returns the new active release id, or null when nothing was staged.
 */
export async function switchToStaged(ctx: SwContext, policy: ActivationPolicy): Promise<string | null> {
  const before = await ctx.store.pointers();
  if (before.staged === null) return null;
  const ptr = await ctx.store.activateStaged();
  const id = ptr.active as string;
  const release = await loadRelease(ctx, id);
  ctx.log.info(`activated ${id} (was ${ptr.previous ?? '-'}), ${policy}`);
  await broadcast(ctx, { name: 'activated', release: id, version: release?.version ?? '', policy });
  return id;
}
