/**
 * The server withdrew what this worker holds (`current` with `drop`, protocol 0.5): the channel was
 * paused or rolled back after the plan was made, or after its release was staged. The plan and
 * the staged release go, in one store transaction with their `dropped` reports; the active release
 * keeps running. Pages that were told of the update learn it is `withdrawn`.
 */
import type { Report } from '../protocol/index.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';
import { broadcast } from './events.js';
import { collectGarbage } from './gc.js';
import { flushOutbox } from './reports.js';

/**
 * The release of the plan this worker holds and has not staged yet, to send as the check-in's
 * `pending`: null without a plan, once it failed (nothing more runs), or once its target is staged
 * or active (then `staged` or `release` says it).
 */
export function pendingTarget(plan: { plan: { to: string }; failure: unknown } | null, ptr: { active: string | null; staged: string | null }): string | null {
  if (!plan || plan.failure) return null;
  const to = plan.plan.to;
  return to === ptr.active || to === ptr.staged ? null : to;
}

/** Drops the held plan and the staged release. Returns the releases withdrawn (none when nothing was held). */
export async function dropHeld(ctx: SwContext): Promise<string[]> {
  const { store, log, adapter } = ctx;
  const [ptr, stored] = await Promise.all([store.pointers(), store.getPlan()]);
  if (!stored && ptr.staged === null) return [];
  const reports: Report[] = [];
  const at = adapter.now();
  const report = (release: string, planId?: string): Report => ({ client: ctx.clientId, app: ctx.config.app, ...(planId ? { planId } : {}), release, event: 'dropped', at });
  // A plan that failed, or whose release is already active, withdraws nothing: it goes quietly.
  const planTarget = stored && !stored.failure && stored.plan.to !== ptr.active ? stored.plan.to : null;
  if (planTarget) reports.push(report(planTarget, stored!.plan.planId));
  if (ptr.staged !== null && ptr.staged !== planTarget) reports.push(report(ptr.staged));
  const after = await store.dropHeld(reports);
  // Its part requests in flight end now, not after whole parts nobody wants: a pause is when the
  // operator wants the load to stop. After the drop is stored, so that no task outcome can be
  // written for a plan that is still held; none is written for one that is gone.
  const aborted = stored ? ctx.running.cancel(stored.plan.planId, 'withdrawn by the server') : 0;
  if (aborted > 0) log.info(`${aborted} task(s) of plan ${stored!.plan.planId} aborted`);
  const withdrawn = reports.map((r) => r.release);
  if (withdrawn.length > 0) log.info(`server withdrew ${withdrawn.join(', ')}: dropped, staying on ${after.active ?? '-'}`);
  for (const release of withdrawn) await broadcast(ctx, { name: 'withdrawn', release, active: after.active });
  // Its parts and release record, unless a pinned page or `previous` still needs them (gc.ts).
  await collectGarbage(ctx).catch((e) => log.warn(`gc: ${describeError(e)}`));
  if (reports.length > 0) await flushOutbox(ctx).catch((e) => log.warn(`outbox: ${describeError(e)}`));
  return withdrawn;
}
