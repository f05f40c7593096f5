/**
 * Runs the current plan's due tasks, `concurrency` at a time, until nothing more is due; then
 * flushes the outbox and arranges the next wake-up (Background Sync where present, a best-effort
 * timer, and a `wake-at` broadcast so open pages can nudge). Every transition is persisted before
 * and after the work, so a killed worker resumes where it stopped.
 */
import type { Task } from '../protocol/index.js';
import { activatePlan } from './activation.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';
import { broadcast } from './events.js';
import { fetchPart, type Holds } from './fetch-part.js';
import { collectGarbage } from './gc.js';
import { flushOutbox, makeReport } from './reports.js';
import { backoff, dueTasks, isExpired, nextWakeAt } from './scheduler.js';
import { stageRelease } from './staging.js';
import type { StoredPlan, TaskRecord } from './store.js';
import type { TaskOutcome } from './task-outcome.js';

export const SYNC_TAG = 'updraft-tasks';

export class TaskRunner {
  private loop: Promise<void> | null = null;
  private again = false;
  private timer: unknown = null;
  private holdMap: Record<string, number> | null = null;
  /** Wakes the drain loop out of waiting for in-flight tasks (a new plan, or new due work). */
  private kick: (() => void) | null = null;
  /** A task's outcome could not be stored since the last look for stale `running` records. */
  private unstored = false;
  /** `planId:partsDone` last broadcast as `progress`; kept across drains so a later pass does not repeat it. */
  private reported = '';

  constructor(private readonly ctx: SwContext) {}

  /** Runs due tasks until none is due. A call while running joins the loop and makes it look again. */
  run(): Promise<void> {
    if (this.loop) {
      this.again = true;
      this.kick?.();
      return this.loop;
    }
    this.loop = this.drain()
      .catch((e) => this.ctx.log.error('task runner', e))
      .finally(() => {
        this.loop = null;
      });
    return this.loop;
  }

  /** The running loop, to keep the worker alive for it (`waitUntil`); resolved when idle. */
  idle(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Resets tasks a killed worker left `running`: nothing is running in a fresh worker. */
  async resume(): Promise<void> {
    const stored = await this.ctx.store.getPlan();
    if (!stored) return;
    const stale = Object.values(stored.tasks).filter((t) => t.state === 'running');
    if (stale.length === 0) return;
    await this.ctx.store.putTasks(stored.plan.planId, stale.map((t) => ({ ...t, state: 'pending' as const })));
    this.ctx.log.info(`resumed ${stale.length} interrupted task(s)`);
  }

  /** Registers the Background Sync tag so the browser runs tasks even with no page open. */
  async requestSync(): Promise<boolean> {
    try {
      return await this.ctx.adapter.registerSync(SYNC_TAG);
    } catch (e) {
      this.ctx.log.warn(`sync register: ${describeError(e)}`);
      return false;
    }
  }

  private async drain(): Promise<void> {
    const { store, adapter, config } = this.ctx;
    const inflight = new Map<string, Promise<void>>();
    // Progress is derived from the stored plan at the top of every pass, before any new task
    // starts: a flag set when a fetch's promise settles could come after a kick had already started
    // the install, and pages then saw a stale `progress` after `update-ready`. Once the plan is
    // installed there is no progress left to tell: a later drain (a sync event, a page's check)
    // used to repeat the last count after `update-ready` (prompt e2e flake in CI).
    for (;;) {
      this.again = false;
      const stored = await store.getPlan();
      // A task `running` that this loop is not running: its outcome could not be written (a store
      // write that failed, e.g. on quota). Left so, it would hold a slot and its dependants for
      // good; it runs again after a backoff instead. Looked for only after such a failure: a pass
      // over every task record on each pass cost a 2,000-part plan's activation.
      if (stored && this.unstored) {
        const stale = Object.values(stored.tasks).filter((t) => t.state === 'running' && !inflight.has(`${stored.plan.planId}/${t.id}`));
        // With nothing else in flight, no other outcome can still fail to be stored.
        if (inflight.size === 0) this.unstored = false;
        if (stale.length > 0) {
          await store.putTasks(stored.plan.planId, stale.map((t) => ({ ...t, state: 'pending' as const, nextAttemptAt: adapter.now() + backoff(t.attempts + 1, adapter.random()) })));
          continue;
        }
      }
      if (stored && !installed(stored)) {
        const done = `${stored.plan.planId}:${partsDone(stored)}`;
        if (done !== this.reported && partsDone(stored) > 0) await this.progress(stored);
        this.reported = done;
      }
      if (stored && !stored.failure && inflight.size === 0 && !installed(stored) && isExpired(stored, adapter.now())) {
        await this.expire(stored);
        continue;
      }
      const holds = await this.holds();
      const due = stored ? dueTasks({ stored, now: adapter.now(), holds: holds.snapshot, concurrency: config.concurrency }) : [];
      const start = due.filter((t) => !inflight.has(`${stored!.plan.planId}/${t.id}`));
      if (stored && start.length > 0) {
        await store.putTasks(
          stored.plan.planId,
          start.map((t) => ({ ...record(stored, t), state: 'running' as const })),
        );
        for (const task of start) {
          const key = `${stored.plan.planId}/${task.id}`;
          // A task whose outcome could not be stored is logged and found stale on the next pass.
          const work = this.runTask(stored, task, holds).catch((e) => {
            this.unstored = true;
            this.ctx.log.error(`task ${task.id}`, e);
          });
          inflight.set(key, work.finally(() => inflight.delete(key)));
        }
      }
      if (inflight.size === 0) {
        if (this.again) continue;
        break;
      }
      // Not only a finished task ends the wait: a run() call does too, so a superseding plan starts
      // at once instead of queueing behind the old plan's request that may hang for minutes.
      const kicked = new Promise<void>((resolve) => (this.kick = resolve));
      await Promise.race([...inflight.values(), kicked]);
      this.kick = null;
    }
    await flushOutbox(this.ctx).catch((e) => this.ctx.log.error('outbox', e));
    await this.scheduleNext();
  }

  /** Runs one task and persists its outcome. */
  private async runTask(stored: StoredPlan, task: Task, holds: Holds & { snapshot: Record<string, number> }): Promise<void> {
    const rec = record(stored, task);
    const planId = stored.plan.planId;
    const { store, log, running } = this.ctx;
    // Its requests end when its plan is withdrawn or superseded (running-tasks.ts).
    const signal = running.start(planId, task.id, task.kind === 'fetch' ? task.sha256 : null);
    let outcome: TaskOutcome;
    try {
      outcome = await this.execute(stored, task, rec, holds, signal);
    } catch (e) {
      outcome = signal.aborted
        ? { kind: 'aborted', why: describeError(signal.reason) }
        : { kind: 'fail', code: 'internal', message: `${task.kind} ${task.id}: ${describeError(e)}` };
    } finally {
      running.end(planId, task.id);
    }
    if (outcome.rejected?.length) {
      // Non-fatal: the plan goes on (or fails on its own account below); the server learns which source lied.
      await store.addReports(outcome.rejected.map((m) => makeReport(this.ctx, stored.plan, 'rejected', 'content', m)));
    }
    switch (outcome.kind) {
      case 'aborted':
        // Not the sources' fault: no attempt, no failure, no report. Its plan is gone (store writes
        // for it are ignored); were it still here, the task would simply run again.
        log.info(`${task.id}: aborted (${outcome.why})`);
        await store.putTasks(planId, [{ ...rec, state: 'pending' }]);
        return;
      case 'done': {
        await store.putTasks(planId, [{ ...rec, state: 'done', lastError: null }]);
        // A superseded plan's fetch that lands late may store a part no release or plan needs now.
        const superseded = task.kind === 'fetch' && (await store.getPlan())?.plan.planId !== planId;
        if (task.kind === 'activate' || superseded) await collectGarbage(this.ctx).catch((e) => log.error('gc', e));
        return;
      }
      case 'retry':
        await store.putTasks(planId, [
          { ...rec, state: 'pending', attempts: rec.attempts + (outcome.counted ? 1 : 0), nextAttemptAt: outcome.at, lastError: outcome.error },
        ]);
        log.info(`${task.id}: retry at ${new Date(outcome.at).toISOString()} (${outcome.error})`);
        return;
      case 'fail': {
        await store.putTasks(planId, [{ ...rec, state: 'failed', attempts: rec.attempts + 1, nextAttemptAt: 0, lastError: outcome.message }]);
        const current = await store.getPlan();
        if (current?.plan.planId !== planId || current.failure) return;
        await store.updatePlan(planId, { failure: { code: outcome.code, message: outcome.message } });
        await store.addReports([makeReport(this.ctx, stored.plan, 'failed', outcome.code, outcome.message)]);
        log.warn(`plan ${planId} failed: ${outcome.code}: ${outcome.message}`);
        await broadcast(this.ctx, { name: 'failed', release: stored.plan.to, code: outcome.code, message: outcome.message });
      }
    }
  }

  private async execute(stored: StoredPlan, task: Task, rec: TaskRecord, holds: Holds, signal: AbortSignal): Promise<TaskOutcome> {
    switch (task.kind) {
      case 'fetch': {
        // A plan this one superseded is still fetching this part, which both need: its bytes land
        // in the parts cache by hash, where `fetchPart` then finds them. Else (it failed) this
        // task fetches them itself, as it would have.
        const earlier = this.ctx.running.fetching(task.sha256, stored.plan.planId);
        if (earlier) await Promise.race([earlier, abortedSignal(signal)]);
        return fetchPart(this.ctx, task, rec, holds, stored.plan.release.assets.find((a) => a.sha256 === task.sha256)?.type, signal);
      }
      case 'install':
        return stageRelease(this.ctx, stored);
      case 'activate':
        return activatePlan(this.ctx, stored);
      case 'report':
        // Reports never fail a plan: they go to the outbox, which retries on its own.
        await this.ctx.store.addReports([makeReport(this.ctx, stored.plan, task.event)]);
        return { kind: 'done' };
    }
  }

  private async expire(stored: StoredPlan): Promise<void> {
    const { store, log } = this.ctx;
    await store.clearPlan();
    await store.addReports([makeReport(this.ctx, stored.plan, 'failed', 'plan_expired', 'plan expired before it completed')]);
    log.warn(`plan ${stored.plan.planId} expired, dropped`);
    await broadcast(this.ctx, { name: 'failed', release: stored.plan.to, code: 'plan_expired', message: 'plan expired' });
  }

  private async progress(stored: StoredPlan): Promise<void> {
    let partsDone = 0;
    let partsTotal = 0;
    let bytesDone = 0;
    let bytesTotal = 0;
    for (const t of stored.plan.tasks) {
      if (t.kind !== 'fetch') continue;
      partsTotal++;
      bytesTotal += t.size;
      if (stored.tasks[t.id]?.state === 'done') {
        partsDone++;
        bytesDone += t.size;
      }
    }
    await broadcast(this.ctx, { name: 'progress', release: stored.plan.to, partsDone, partsTotal, bytesDone, bytesTotal });
  }

  /** Source holds, kept in memory while running so concurrent fetches do not overwrite each other's. */
  private async holds(): Promise<Holds & { snapshot: Record<string, number> }> {
    const { store } = this.ctx;
    this.holdMap ??= (await store.getMeta('holds')) ?? {};
    const map = this.holdMap;
    return {
      snapshot: map,
      get: (origin) => map[origin] ?? 0,
      hold: async (origin, until) => {
        map[origin] = Math.max(map[origin] ?? 0, until);
        await store.setMeta('holds', map);
      },
    };
  }

  /** The local time of the next due task (or outbox retry), and a timer for it. */
  async scheduleNext(): Promise<number | null> {
    const { adapter, store } = this.ctx;
    const stored = await store.getPlan();
    const holds = await this.holds();
    const taskAt = stored ? nextWakeAt({ stored, now: adapter.now(), holds: holds.snapshot, concurrency: this.ctx.config.concurrency }) : null;
    const pendingReports = (await store.outbox(1)).length > 0;
    const reportAt = pendingReports ? ((await store.getMeta('outboxRetryAt')) ?? 0) : null;
    const candidates = [taskAt, reportAt].filter((t): t is number => t !== null);
    if (this.timer !== null) adapter.clearTimeout(this.timer);
    this.timer = null;
    if (candidates.length === 0) return null;
    const at = Math.min(...candidates);
    // Best effort: the browser may stop an idle worker long before; sync, pages and check-ins wake it again.
    this.timer = adapter.setTimeout(() => {
      this.timer = null;
      void this.run();
    }, Math.max(0, at - adapter.now()));
    if (taskAt !== null && taskAt > adapter.now()) await broadcast(this.ctx, { name: 'wake-at', at: taskAt });
    return at;
  }
}

/** Resolves when `signal` aborts. */
function abortedSignal(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

/** Fetch tasks of the plan that are done. */
function partsDone(stored: StoredPlan): number {
  return stored.plan.tasks.filter((t) => t.kind === 'fetch' && stored.tasks[t.id]?.state === 'done').length;
}

function record(stored: StoredPlan, task: Task): TaskRecord {
  return stored.tasks[task.id] ?? { id: task.id, state: 'pending', attempts: 0, nextAttemptAt: 0, lastError: null };
}

/** Once staged, a plan no longer expires: the release is on disk and only waits for activation. */
function installed(stored: StoredPlan): boolean {
  return stored.plan.tasks.some((t) => t.kind === 'install' && stored.tasks[t.id]?.state === 'done');
}
