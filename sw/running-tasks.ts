/**
 * The tasks the runner has in flight, by plan, each with its own AbortController. When the plan
 * they belong to goes, so do their requests: a withdrawal (`current` with `drop`, withdrawal.ts)
 * aborts them all, which is what a paused rollout wants (the load stops now, not after up to
 * `concurrency` whole parts); a superseding plan (check-in.ts `acceptPlan`) aborts those fetching
 * parts it does not need, and lets the ones it shares finish (parts are stored by hash: its own
 * task for that part waits for them, `fetching`). The runner owns the entries (`start`, `end`);
 * the context carries the registry so the check-in can reach them.
 */

/** Why a task's requests were aborted: not a failure of its sources, and not reported as one. */
export class TaskCancelled extends Error {
  override readonly name = 'AbortError';
  constructor(readonly planId: string, readonly why: string) {
    super(`plan ${planId} ${why}`);
  }
}

interface Entry {
  controller: AbortController;
  /** The part a fetch task gets; none for other kinds. */
  sha256: string | null;
  ended: Promise<void>;
  end: () => void;
}

/** Cancelled plans remembered, most recent last: a few are plenty (see `start`). */
const REMEMBERED = 8;

export class RunningTasks {
  private readonly plans = new Map<string, Map<string, Entry>>();
  private readonly cancelled = new Map<string, { why: string; keep: ReadonlySet<string> }>();

  /**
   * A task starts: its signal, aborted when its plan is cancelled. Pair with `end`. A task of a plan
   * cancelled already starts aborted: the runner may have read the plan just before it went.
   */
  start(planId: string, taskId: string, sha256: string | null = null): AbortSignal {
    let end: () => void = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    const entry: Entry = { controller: new AbortController(), sha256, ended, end };
    const gone = this.cancelled.get(planId);
    if (gone && !(sha256 !== null && gone.keep.has(sha256))) entry.controller.abort(new TaskCancelled(planId, gone.why));
    let tasks = this.plans.get(planId);
    if (!tasks) this.plans.set(planId, (tasks = new Map()));
    tasks.set(taskId, entry);
    return entry.controller.signal;
  }

  end(planId: string, taskId: string): void {
    const tasks = this.plans.get(planId);
    const entry = tasks?.get(taskId);
    if (!entry) return;
    tasks!.delete(taskId);
    if (tasks!.size === 0) this.plans.delete(planId);
    entry.end();
  }

  /**
   * Aborts the running tasks of `planId`, except fetches of a part in `keep` (a superseding plan's
   * parts: their bytes are wanted). Returns how many were aborted.
   */
  cancel(planId: string, why: string, keep: ReadonlySet<string> = new Set()): number {
    this.cancelled.delete(planId);
    this.cancelled.set(planId, { why, keep });
    for (const old of this.cancelled.keys()) if (this.cancelled.size > REMEMBERED) this.cancelled.delete(old);
    let n = 0;
    for (const entry of this.plans.get(planId)?.values() ?? []) {
      if (entry.sha256 !== null && keep.has(entry.sha256)) continue;
      if (entry.controller.signal.aborted) continue;
      entry.controller.abort(new TaskCancelled(planId, why));
      n++;
    }
    return n;
  }

  /** `planId` is stored again (the same plan offered anew after its withdrawal): its tasks run. */
  accepted(planId: string): void {
    this.cancelled.delete(planId);
  }

  /** The end of a fetch of `sha256` running for another plan than `planId` (one a new plan superseded), or null. */
  fetching(sha256: string, planId: string): Promise<void> | null {
    for (const [id, tasks] of this.plans) {
      if (id === planId) continue;
      for (const entry of tasks.values()) if (entry.sha256 === sha256 && !entry.controller.signal.aborted) return entry.ended;
    }
    return null;
  }
}
