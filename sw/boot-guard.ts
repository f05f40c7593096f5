/**
 * Release-bound readiness, the IO: starts a watched release's clock at the first navigation it
 * serves, takes pages' `ready()` confirmations, and rolls back once the deadline passes. The
 * deadline is persisted (`Meta.boot`): a worker stopped in between finds it at its next wake-up or
 * navigation (`check`); a timer covers a worker that stays alive.
 */
import type { ReadyReply, Report } from '../protocol/index.js';
import { loadRelease, type SwContext } from './context.js';
import { broadcast } from './events.js';
import { judgeReady, startClock } from './readiness.js';

export interface RolledBack {
  /** The release that failed to boot. */
  release: string;
  /** The release active again. */
  active: string;
}

export class BootGuard {
  private timer: unknown = null;
  private pending: Promise<unknown> = Promise.resolve();
  private fired: Promise<unknown> = Promise.resolve();
  private after: Promise<unknown> = Promise.resolve();
  private readySeen: boolean | null = null;

  constructor(
    private readonly ctx: SwContext,
    private readonly onRolledBack: (r: RolledBack) => Promise<void>,
  ) {}

  /** Arms the timer for a clock that is running (a fresh worker over a persisted deadline). */
  arm(): void {
    const { adapter } = this.ctx;
    if (this.timer !== null) adapter.clearTimeout(this.timer);
    this.timer = null;
    const deadline = this.ctx.boot?.deadline;
    if (deadline == null) return;
    this.timer = adapter.setTimeout(() => {
      this.timer = null;
      this.fired = this.check();
    }, Math.max(0, deadline - adapter.now()));
  }

  /** Resolves once nothing started here is in flight (the timer's rollback included). */
  async idle(): Promise<void> {
    // In this order: a firing timer's check sets `after` before it resolves.
    await this.fired.catch(() => undefined);
    await this.pending;
    await this.after;
  }

  /**
   * Rolls back when the watched release's deadline passed. Cheap when it did not (no store read):
   * called at every wake-up and before a navigation picks its release. Returns what it did.
   */
  async check(): Promise<RolledBack | null> {
    const boot = this.ctx.boot;
    if (!boot || boot.deadline === null || this.ctx.adapter.now() < boot.deadline) return null;
    const result = await this.serial(() => this.rollBack(boot.release));
    // Not awaited: collecting and flushing reports must not hold up the navigation that found the
    // deadline passed. `idle()` covers it.
    if (result) this.after = this.onRolledBack(result).catch((e) => this.ctx.log.error('after rollback', e));
    return result;
  }

  /** A navigation was answered by `release`: the first one starts the watched release's clock. */
  async served(release: string): Promise<void> {
    const boot = this.ctx.boot;
    const { adapter, config, store, log } = this.ctx;
    const next = startClock(boot, release, adapter.now(), config.bootTimeoutMs);
    if (!next || next.deadline === null) return;
    await this.serial(async () => {
      this.ctx.boot = await store.startBootClock(release, next.deadline!);
      if (this.ctx.boot?.release === release && this.ctx.boot.deadline !== null) {
        log.info(`boot check: ${release} served its first page, ready() due by ${new Date(this.ctx.boot.deadline).toISOString()}`);
      }
      this.arm();
    });
  }

  /**
   * A page's `ready()`: judged by `pinned`, the release that served it, never by what the page
   * says; `fromNetwork`: the network answered its document, so it confirms nothing.
   */
  confirm(pinned: string | null, fromNetwork = false): Promise<ReadyReply> {
    return this.serial(async () => {
      const { store, log } = this.ctx;
      if (this.readySeen !== true) {
        this.readySeen = true;
        if (!(await store.getMeta('readySeen'))) await store.setMeta('readySeen', true);
      }
      // A late confirmation still counts while the watch stands: the release evidently boots.
      let result = judgeReady(this.ctx.boot, pinned, fromNetwork);
      if (result === 'confirmed' && pinned !== null) {
        if (await store.confirmBoot(pinned)) log.info(`boot check: ${pinned} confirmed by a page it served`);
        else result = 'none-pending';
        this.ctx.boot = (await store.getMeta('boot')) ?? null;
        this.arm();
      }
      return { release: pinned, result };
    });
  }

  private async rollBack(release: string): Promise<RolledBack | null> {
    const { adapter, store, log, config } = this.ctx;
    const boot = this.ctx.boot;
    if (!boot || boot.release !== release || boot.deadline === null || adapter.now() < boot.deadline) return null;
    const stored = await store.getPlan();
    const planId = stored?.plan.to === release ? stored.plan.planId : undefined;
    const manifest = await loadRelease(this.ctx, release);
    const message = `no page served by ${manifest?.version ?? release} called ready() within ${config.bootTimeoutMs} ms of its first navigation`;
    const now = adapter.now();
    const report: Report = { client: this.ctx.clientId, app: config.app, release, event: 'boot-failed', code: 'boot_failed', message, at: now };
    if (planId) report.planId = planId;
    const ptr = await store.rollBack(release, report, now);
    this.ctx.boot = (await store.getMeta('boot')) ?? null;
    this.arm();
    if (!ptr || ptr.active === null) return null;
    log.warn(`boot check failed: ${message}; rolled back to ${ptr.active}, ${release} marked bad`);
    // The plan completed, but its release must not count as in use (GC) nor run again.
    if (stored && planId && !stored.failure) await store.updatePlan(planId, { failure: { code: 'boot_failed', message } });
    await broadcast(this.ctx, { name: 'rolled-back', release, version: manifest?.version ?? '', active: ptr.active, code: 'boot_failed' });
    return { release, active: ptr.active };
  }

  /** One at a time: a confirmation and a rollback never interleave their reads and writes. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.pending.then(work, work);
    this.pending = run.catch(() => undefined);
    return run;
  }
}
