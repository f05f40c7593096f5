/**
 * Check-in: tell the server what we run, get `current` or an update plan, honour 429/503 +
 * Retry-After (never check in before the hold ends). Storing the plan is `acceptPlan`.
 */
import * as v from 'valibot';
import {
  CHECK_IN_INTERVAL_RANGE_S,
  checkManifestConsistency,
  expandPlan,
  CheckInResponse,
  readErrorBody,
  joinUrl,
  PATHS,
  type CheckInRequest,
  type CheckNowReply,
  type Plan,
} from '../protocol/index.js';
import { loadRelease, type SwContext } from './context.js';
import { describeError } from './debug.js';
import { broadcast } from './events.js';
import { PLAN_DOC_MAX_BYTES, resolvePlanRef } from './plan-doc.js';
import { cancelBody, readCapped, TooLarge } from './read-capped.js';
import { rememberSeq, verifyPlan, type PlanProblem } from './plan-verify.js';
import { isBad } from './readiness.js';
import { flushOutbox, makeReport } from './reports.js';
import { backoff } from './scheduler.js';
import { timedRequest } from './timed-fetch.js';
import { parseRetryAfter } from './scheduler.js';
import type { StoredPlan, TaskRecord } from './store.js';
import { dropHeld, pendingTarget } from './withdrawal.js';

export const PERIODIC_TAG = 'updraft-check-in';

/** Whether a check-in is due now: past `nextCheckInAt` and past any server hold. */
export async function checkInDue(ctx: SwContext): Promise<boolean> {
  const now = ctx.adapter.now();
  const [next, hold] = await Promise.all([ctx.store.getMeta('nextCheckInAt'), ctx.store.getMeta('checkInHoldUntil')]);
  return now >= (next ?? 0) && now >= (hold ?? 0);
}

/** Check-ins in flight, per worker context. */
const inflight = new WeakMap<SwContext, Promise<CheckNowReply>>();

/**
 * Checks in now unless the server holds us off. On `update`, the plan is stored (`acceptPlan`).
 * One at a time: a call while a check-in is in flight joins it. Otherwise a sync wake-up and a
 * page's check-now arriving together both pass the hold check and the second request ignores the
 * Retry-After the first one is about to receive.
 */
export function checkIn(ctx: SwContext): Promise<CheckNowReply> {
  const running = inflight.get(ctx);
  if (running) return running;
  const p = checkInOnce(ctx).finally(() => inflight.delete(ctx));
  inflight.set(ctx, p);
  return p;
}

async function checkInOnce(ctx: SwContext): Promise<CheckNowReply> {
  const { adapter, store, log } = ctx;
  const hold = (await store.getMeta('checkInHoldUntil')) ?? 0;
  if (adapter.now() < hold) return { result: 'retry', retryAt: hold };

  const [ptr, held] = await Promise.all([store.pointers(), store.getPlan()]);
  const pending = pendingTarget(held, ptr);
  const estimate = await adapter.estimate().catch(() => ({}) as { quota?: number; usage?: number });
  const body: CheckInRequest = {
    client: ctx.clientId,
    app: ctx.config.app,
    channel: ctx.config.channel,
    release: ptr.active,
    staged: ptr.staged,
    // Only when there is one: the common body stays the one every server reads fastest.
    ...(pending ? { pending } : {}),
    caps: { sync: adapter.hasSync(), periodicSync: (await store.getMeta('periodicSync')) ?? false },
  };
  if (typeof estimate.quota === 'number') body.caps.quota = estimate.quota;
  if (typeof estimate.usage === 'number') body.caps.usage = estimate.usage;
  // We read a plan's compact task list (protocol `CompactFetch`): 40 % fewer bytes per plan.
  body.caps.compactPlans = true;
  // And fetch a plan document an answer names (protocol plan-ref.ts): a large plan then travels
  // once, cacheably, not in every answer. Not right after a document failed us (`inlinePlansOnce`).
  const inlineOnce = (await store.getMeta('inlinePlansOnce')) === true;
  if (!inlineOnce) body.caps.planRefs = true;
  // And verify release ids that cover sw.js (protocol 0.6): without it the server offers no
  // release built since, as workers before 0.6 would refuse its plan.
  body.caps.swIds = true;
  // Spares the server a write when our state is the one it acknowledged.
  const recorded = await store.getMeta('recorded');
  if (recorded) body.recorded = recorded;

  // The answer is read whole within the request's deadline; a 429/503's body is not read.
  const url = joinUrl(ctx.urls.server, PATHS.checkIn);
  let res: Response;
  let json: unknown;
  try {
    ({ res, json } = await timedRequest(ctx, url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      cache: 'no-store',
    }, async (r, progress) => ({ res: r, json: r.status === 429 || r.status === 503 ? cancelBody(r) : await readJson(r, progress) })));
  } catch (e) {
    await failed(ctx, null);
    log.warn(`check-in: ${describeError(e)}`);
    return { result: 'error', code: 'transport', message: describeError(e) };
  }

  if (res.status === 429 || res.status === 503) {
    const until = await failed(ctx, parseRetryAfter(res.headers.get('retry-after'), adapter.now()));
    await store.setMeta('checkInHoldUntil', until);
    log.info(`check-in: ${res.status}, held until ${new Date(until).toISOString()}`);
    return { result: 'retry', retryAt: until };
  }

  if (!res.ok) {
    await failed(ctx, null);
    const { code, message } = readErrorBody(json, 'internal');
    if (message !== null) {
      log.warn(`check-in: HTTP ${res.status} ${code}`);
      return { result: 'error', code, message };
    }
    // No Updraft error body: something else answers at the server URL, most often a static host
    // such as `vite preview`, which serves sw.js but no update API. The code stays `internal`;
    // the message says what to look at.
    const notUpdraft = `HTTP ${res.status} from ${url}, not an Updraft server's answer: is the update server there (the plugin's \`server\` option)?`;
    log.warn(`check-in: ${notUpdraft}`);
    return { result: 'error', code, message: notUpdraft };
  }
  const parsed = v.safeParse(CheckInResponse, json);
  if (!parsed.success) {
    await failed(ctx, null);
    log.warn(`check-in: invalid answer: ${parsed.issues[0]?.message ?? ''}`);
    return { result: 'error', code: 'invalid_body', message: 'invalid check-in answer' };
  }
  const answer = parsed.output;
  let wire = answer.status === 'update' ? answer.plan : null;
  if (answer.status === 'update-ref') {
    // An answer by reference: its plan document first. Until it is here and checks out, this
    // check-in has not succeeded (backoff, or the server's Retry-After, then check in again).
    const got = await resolvePlanRef(ctx, answer.ref);
    if (!('plan' in got)) {
      const until = await failed(ctx, got.retryAt ?? null);
      log.warn(`check-in: ${got.code}: ${got.message}`);
      if (got.retryAt === undefined) {
        // Not a hold: the next check-in asks for the plan inline rather than for this document again.
        await store.setMeta('inlinePlansOnce', true);
        return { result: 'error', code: got.code, message: got.message };
      }
      await store.setMeta('checkInHoldUntil', until);
      return { result: 'retry', retryAt: until };
    }
    wire = got.plan;
  }
  if (inlineOnce) await store.setMeta('inlinePlansOnce', false);
  await store.setMeta('checkInFailures', 0);
  if (answer.recorded) await store.setMeta('recorded', answer.recorded);
  // Held to the protocol's range: an answer out of it (a misconfigured or older server) must neither
  // silence this worker for good nor have it check in without pause.
  const [least, most] = CHECK_IN_INTERVAL_RANGE_S;
  const nextCheckIn = Math.min(most, Math.max(least, answer.nextCheckIn));
  const nextCheckInAt = adapter.now() + nextCheckIn * 1000;
  await store.setMeta('nextCheckInAt', nextCheckInAt);
  await broadcast(ctx, { name: 'check-in-at', at: nextCheckInAt });
  await registerPeriodic(ctx, nextCheckIn * 1000);
  if (!wire) {
    log.info(`check-in: current${answer.status === 'current' && answer.drop ? ', drop what is held' : ''}, next in ${nextCheckIn}s`);
    // A pause or a roll back since the plan (or the staged release) came: the server would not
    // have us move there now.
    if (answer.status === 'current' && answer.drop) await dropHeld(ctx);
    return { result: 'current' };
  }
  // A manifest sent as a patch is rebuilt from our copy of its base (the release we run) first:
  // the consistency check and the signatures apply to the whole manifest.
  const patchBase = wire.releasePatch ? await loadRelease(ctx, wire.releasePatch.base) : null;
  const plan = expandPlan(wire, patchBase);
  if (!plan) {
    log.warn(`check-in: plan rejected: its manifest patch needs release ${wire.releasePatch?.base}, which is not here`);
    return { result: 'error', code: 'invalid_body', message: 'the plan\'s manifest patch applies to a release this worker does not hold' };
  }
  const problem = await checkManifestConsistency(plan.release);
  if (problem || plan.release.id !== plan.to || plan.app !== ctx.config.app) {
    log.warn(`check-in: plan rejected: ${problem ?? 'target does not match its release'}`);
    return { result: 'error', code: 'invalid_body', message: problem ?? 'plan target does not match its release' };
  }
  if (plan.from === body.release && (await store.pointers()).active !== body.release) {
    // The active release changed while the answer was on its way (an activation, a boot check's
    // rollback): the plan was issued for the release this worker ran when it asked. Stale, not an
    // attack: `acceptPlan` would refuse it (`from`) and report a refusal; the next check-in asks
    // again for the release running now.
    log.info(`check-in: plan ${plan.planId} ignored, issued for ${plan.from}, which is no longer active`);
    return { result: 'current' };
  }
  if (isBad(await store.getMeta('badReleases'), plan.to)) {
    // Rolled back here for failing to boot: wait for the server to offer another release.
    log.info(`check-in: plan to ${plan.to} ignored, that release failed to boot here`);
    return { result: 'current' };
  }
  try {
    await acceptPlan(ctx, plan);
  } catch (e) {
    if (!(e instanceof PlanRefused)) throw e;
    return { result: 'error', code: e.problem.code, message: e.problem.message };
  }
  return { result: 'update', release: plan.to };
}

/**
 * Stores `plan` unless its target is already active or staged, or failed to boot here. Replaces an older plan (parts it
 * fetched stay in the cache and make the new plan's fetches instant); the same plan again keeps its
 * progress unless it had failed. Returns whether a plan was stored; throws `PlanRefused` when
 * `verifyPlan` refuses it (the refusal is reported and broadcast first).
 */
export async function acceptPlan(ctx: SwContext, plan: Plan): Promise<boolean> {
  const { store, adapter, log } = ctx;
  const ptr = await store.pointers();
  if (plan.to === ptr.active || plan.to === ptr.staged) {
    log.info(`plan ${plan.planId}: ${plan.to} already ${plan.to === ptr.active ? 'active' : 'staged'}, ignored`);
    return false;
  }
  if (isBad(await store.getMeta('badReleases'), plan.to)) return false;
  const current = await store.getPlan();
  if (current && current.plan.planId === plan.planId && !current.failure) return false;
  const problem = await verifyPlan(ctx, plan);
  if (problem) {
    // Refused, never stored: whatever sent it, the running release and any plan in progress stay as they are.
    log.warn(`plan ${plan.planId} refused: ${problem.code}: ${problem.message}`);
    await store.addReports([makeReport(ctx, plan, 'failed', problem.code, problem.message)]);
    await broadcast(ctx, { name: 'failed', release: plan.to, code: problem.code, message: problem.message });
    // Tell the server now: a refused plan is what an attack or a key mix-up looks like from there.
    await flushOutbox(ctx).catch((e) => log.warn(`outbox: ${describeError(e)}`));
    throw new PlanRefused(problem);
  }
  await rememberSeq(ctx, plan);
  const tasks: Record<string, TaskRecord> = {};
  for (const t of plan.tasks) tasks[t.id] = { id: t.id, state: 'pending', attempts: 0, nextAttemptAt: 0, lastError: null };
  const stored: StoredPlan = { plan, receivedAt: adapter.now(), applied: false, failure: null, tasks };
  // Its parts are in use from now on: a collection running now starts over (gc.ts).
  ctx.plansAccepted++;
  await store.putPlan(stored);
  ctx.running.accepted(plan.planId);
  if (current && current.plan.planId !== plan.planId) {
    // Its requests in flight end now, but for parts this plan needs too: those bytes are wanted
    // (stored by hash), and this plan's task for such a part waits for them (task-runner.ts).
    const aborted = ctx.running.cancel(current.plan.planId, `superseded by ${plan.planId}`, new Set(plan.release.assets.map((a) => a.sha256)));
    log.info(`plan ${current.plan.planId} superseded by ${plan.planId}${aborted ? `, ${aborted} request(s) aborted` : ''}`);
  }
  log.info(`plan ${plan.planId}: ${plan.from ?? '-'} → ${plan.to}, ${plan.tasks.length} tasks, ${plan.activation}`);
  const fetches = plan.tasks.filter((t) => t.kind === 'fetch');
  await broadcast(ctx, {
    name: 'update-available',
    release: plan.to,
    version: plan.release.version,
    partsTotal: fetches.length,
    bytesTotal: fetches.reduce((n, t) => n + t.size, 0),
  });
  return true;
}

/** `acceptPlan` refused a plan from the network (signature, freshness, downgrade). */
export class PlanRefused extends Error {
  constructor(readonly problem: PlanProblem) {
    super(`${problem.code}: ${problem.message}`);
  }
}

/** Records a failed check-in; returns the hold-until to use (Retry-After, else backoff with jitter). */
async function failed(ctx: SwContext, retryAt: number | null): Promise<number> {
  const { store, adapter } = ctx;
  const failures = ((await store.getMeta('checkInFailures')) ?? 0) + 1;
  const until = retryAt ?? adapter.now() + backoff(failures, adapter.random());
  await store.setMeta('checkInFailures', failures);
  // Without a server hold, a failed check-in still waits for the backoff before the next automatic one.
  await store.setMeta('nextCheckInAt', until);
  await broadcast(ctx, { name: 'check-in-at', at: until });
  return until;
}

async function registerPeriodic(ctx: SwContext, minInterval: number): Promise<void> {
  try {
    const ok = await ctx.adapter.registerPeriodicSync(PERIODIC_TAG, minInterval);
    await ctx.store.setMeta('periodicSync', ok);
  } catch (e) {
    ctx.log.warn(`periodic sync: ${describeError(e)}`);
  }
}

/** Check-in answers larger than this are refused: an inline plan's manifest patch fits many times over. */
export const CHECK_IN_ANSWER_MAX_BYTES = PLAN_DOC_MAX_BYTES;

/**
 * The body as JSON, or undefined when it is not JSON or is larger than `CHECK_IN_ANSWER_MAX_BYTES`
 * (the caller says what that means). A stalled body is the watchdog's (`progress` per chunk).
 */
async function readJson(res: Response, progress: () => void): Promise<unknown> {
  let bytes: ArrayBuffer;
  try {
    bytes = await readCapped(res, CHECK_IN_ANSWER_MAX_BYTES, { onChunk: progress });
  } catch (e) {
    if (e instanceof TooLarge) return undefined;
    throw e;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}
