/** The `activate` task and `updraft:apply`: switch `active` to the staged release in one transaction. */
import type { ActivationPolicy } from '../protocol/index.js';
import { loadRelease, type SwContext } from './context.js';
import { broadcast } from './events.js';
import { shouldWatch } from './readiness.js';
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
 * previous = active, active = staged, staged = null, and a boot watch on the new release (see
 * `readiness.ts`) once this app's pages call `ready()`. Open pages stay pinned to the release that
 * served them; the next navigation gets the new one (`immediate` tells pages to reload).
 * Returns the new active release id, or null when nothing was staged.
 */
export async function switchToStaged(ctx: SwContext, policy: ActivationPolicy): Promise<string | null> {
  const before = await ctx.store.pointers();
  if (before.staged === null) return null;
  const watch = shouldWatch(ctx.config.bootTimeoutMs, (await ctx.store.getMeta('readySeen')) ?? false);
  const ptr = await ctx.store.activateStaged(watch);
  ctx.boot = (await ctx.store.getMeta('boot')) ?? null;
  const id = ptr.active as string;
  const release = await loadRelease(ctx, id);
  const check = ctx.boot ? `, awaiting ready() (falls back to ${ctx.boot.previous})` : '';
  ctx.log.info(`activated ${id} (was ${before.active ?? '-'}), ${policy}${check}`);
  await broadcast(ctx, { name: 'activated', release: id, version: release?.version ?? '', policy });
  return id;
}
