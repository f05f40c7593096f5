/** The `install` task: every part of the target is in the parts cache → stage the release in one transaction. */
import { checkManifestConsistency } from '../protocol/index.js';
import { partKey } from './adapter.js';
import { checkSignature } from './plan-verify.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';
import { broadcast } from './events.js';
import { collectGarbage } from './gc.js';
import { refetchPart } from './serve.js';
import type { StoredPlan } from './store.js';
import type { TaskOutcome } from './task-outcome.js';

export async function stageRelease(ctx: SwContext, stored: StoredPlan): Promise<TaskOutcome> {
  const { plan } = stored;
  const ptr = await ctx.store.pointers();
  // Idempotent: a worker killed after the transaction but before marking the task done redoes nothing.
  if (ptr.staged === plan.to || ptr.active === plan.to) return { kind: 'done' };
  // The stored plan was checked when it arrived, but IndexedDB is writable by any script of the
  // origin: check again that the release about to be staged is exactly the signed one.
  const signature = await checkSignature(ctx, plan);
  if (signature) return { kind: 'fail', ...signature };
  const problem = (await checkManifestConsistency(plan.release)) ?? (plan.release.id === plan.to ? null : `release ${plan.release.id} is not the plan's target ${plan.to}`);
  if (problem) return { kind: 'fail', code: 'install', message: problem };
  // Parts are stored only after their hash was verified, so presence is enough here.
  const missing: string[] = [];
  for (const asset of plan.release.assets) {
    if (await ctx.parts.match(partKey(ctx.urls.scope, asset.sha256))) continue;
    // The plan has no fetch task for a part the running release shares (the server plans from what
    // we run), and the browser may have evicted it since: fetch it by hash now, or every plan for
    // this release fails the same way and the update never lands (chaos seed 5017).
    if (!(await refetchPart(ctx, asset))) missing.push(asset.path);
  }
  if (missing.length > 0) {
    return { kind: 'fail', code: 'install', message: `parts missing for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '…' : ''}` };
  }
  // Only while this plan is still held: the server may have withdrawn it meanwhile (`drop`).
  if ((await ctx.store.stage(plan.release, plan.planId)).staged !== plan.to) {
    ctx.log.info(`plan ${plan.planId} was dropped while it installed: ${plan.to} not staged`);
    return { kind: 'done' };
  }
  ctx.releases.set(plan.release.id, plan.release);
  ctx.log.info(`staged ${plan.to} (${plan.release.version})${ptr.staged ? ` in place of ${ptr.staged}` : ''}`);
  // The release it replaces will never be activated (apply() goes to this one): a user of the
  // prompt policy who never applies would otherwise keep one whole release more on disk per
  // superseded one until the next activation. Collected now, but for what gc keeps anyway (a page
  // pinned to it, `previous`, parts this release or the active one shares). Killed before or
  // during the collection, the next worker's start collects it (gc is idempotent).
  if (ptr.staged !== null) await collectGarbage(ctx).catch((e) => ctx.log.warn(`gc: ${describeError(e)}`));
  await broadcast(ctx, { name: 'update-ready', release: plan.to, version: plan.release.version, policy: plan.activation });
  return { kind: 'done' };
}
