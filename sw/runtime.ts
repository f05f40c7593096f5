/**
 * The driver (Angular's `Driver`): owns the context, the task runner and the mode, and turns
 * worker events into calls. It never reads `self`; `main.ts` forwards events to it. Every entry
 * point catches: a failure is logged, the mode says why, and requests fall back to the network.
 */
import type { CheckNowReply, HelloReply, PageRequest, ReadyReply, SwConfig, SwDebugState, SwReply } from '../protocol/index.js';
import { isErrorCode } from '../protocol/index.js';
import { switchToStaged } from './activation.js';
import { PRECACHE_CACHE, type Adapter } from './adapter.js';
import { BootGuard } from './boot-guard.js';
import { bootstrap, type BootstrapResult } from './bootstrap.js';
import { checkIn, checkInDue, PERIODIC_TAG } from './check-in.js';
import { resolveUrls, type Urls } from './config.js';
import { loadRelease, type SwContext } from './context.js';
import { describeError, Log, renderState } from './debug.js';
import { collectGarbage } from './gc.js';
import { MemoryStore } from './memory-store.js';
import { resolveAsset, route } from './router.js';
import { RunningTasks } from './running-tasks.js';
import { serveAsset } from './serve.js';
import { SYNC_TAG, TaskRunner } from './task-runner.js';
import { pendingTarget } from './withdrawal.js';

/** Wake-ups from fetch and message events look for due work at most this often. */
export const WAKE_THROTTLE_MS = 30_000;

/** A worker still waiting to activate this long after its install calls skipWaiting once more (see `onInstall`). */
export const SKIP_WAITING_AGAIN_MS = 1_000;

export interface FetchInput {
  request: Request;
  clientId: string;
  resultingClientId: string;
}

export class Runtime {
  readonly log: Log;
  readonly urls: Urls;
  mode: 'normal' | 'degraded' = 'normal';
  why: string | null = null;
  private ctxPromise: Promise<SwContext> | null = null;
  private runnerInstance: TaskRunner | null = null;
  private bootGuard: BootGuard | null = null;
  private lastWake = -Infinity;
  /** The check-in and drain started when activation ended (`onActivate`), while they run. */
  private afterActivate: Promise<void> | null = null;
  /** The second skipWaiting, while this worker waits to activate (`onInstall`). */
  private skipWaitingTimer: unknown = null;
  private activating = false;
  /**
   * The install's bootstrap while it runs. A page can message the installing worker (a
   * `checkNow()` at load, on a first visit): a check-in then would name no release, and the
   * server would offer the very release being installed, to download twice.
   */
  private installing: Promise<unknown> | null = null;

  constructor(
    readonly adapter: Adapter,
    readonly config: SwConfig,
    script = 'sw.js',
  ) {
    this.log = new Log(() => adapter.now());
    this.urls = resolveUrls(config, adapter.scope, script);
  }

  /** Opens the store and cache once; resets tasks a killed worker left running. */
  ready(): Promise<SwContext> {
    this.ctxPromise ??= this.init().catch((e) => {
      this.ctxPromise = null;
      throw e;
    });
    return this.ctxPromise;
  }

  async runner(): Promise<TaskRunner> {
    const ctx = await this.ready();
    this.runnerInstance ??= new TaskRunner(ctx);
    return this.runnerInstance;
  }

  private async init(): Promise<SwContext> {
    const { adapter } = this;
    let store;
    try {
      store = await adapter.store();
    } catch (e) {
      // Without IndexedDB (private mode in some browsers) nothing survives a restart: serve from
      // memory and say so, rather than not at all.
      this.degrade(`store unavailable: ${describeError(e)}`);
      store = new MemoryStore();
    }
    const parts = await adapter.parts();
    let clientId = await store.getMeta('clientId');
    if (!clientId) {
      clientId = adapter.randomId();
      await store.setMeta('clientId', clientId);
    }
    const stored = await store.pins();
    const pins = new Map(stored.map((p) => [p.clientId, p.release] as const));
    const fromNetwork = new Set(stored.filter((p) => p.network).map((p) => p.clientId));
    const boot = (await store.getMeta('boot')) ?? null;
    const ctx: SwContext = { adapter, store, parts, config: this.config, urls: this.urls, log: this.log, clientId, pins, fromNetwork, releases: new Map(), boot, running: new RunningTasks(), plansAccepted: 0 };
    this.runnerInstance = new TaskRunner(ctx);
    await this.runnerInstance.resume();
    this.bootGuard = new BootGuard(ctx, async () => {
      await collectGarbage(ctx);
      // Sends the boot-failed report now (the runner flushes the outbox and schedules its retry).
      await (await this.runner()).run();
    });
    // A deadline persisted by a worker that was stopped: fire at it if this one lives that long.
    this.bootGuard.arm();
    return ctx;
  }

  async boots(): Promise<BootGuard> {
    await this.ready();
    return this.bootGuard!;
  }

  /** Rolls back a release whose boot deadline passed (see `boot-guard.ts`); cheap otherwise. */
  private async checkBoot(): Promise<void> {
    await this.guard('boot check', async () => {
      await (await this.boots()).check();
    });
  }

  degrade(why: string): void {
    this.mode = 'degraded';
    this.why = why;
    this.log.warn(`degraded: ${why}`);
  }

  // ---- lifecycle ----

  /** On every worker start: collect what closed windows left behind. */
  async onStart(): Promise<void> {
    await this.checkBoot();
    await this.guard('start', async () => {
      await collectGarbage(await this.ready());
    });
  }

  /**
   * Installs and asks to activate; still waiting `SKIP_WAITING_AGAIN_MS` later, asks once more.
   * Chromium (156) answers skipWaiting by telling the outgoing worker to stop as soon as it has no
   * event in flight, and activates this one once it has stopped. An event for the outgoing worker
   * that arrives while it is stopping (a page's fetch, a message, a sync) starts it again, and the
   * new instance is not told: the activation then waits until it has been idle for its whole idle
   * timeout (30 s, which each fetch of its pages starts again), or 5 minutes. The call made from
   * the `installed` state tells it again (`ActivateWaitingVersionWhenReady`); Chromium does so for
   * the first call only (later ones wait on that one's promise, which settles at activation), so
   * there is one. e2e/worker-takeover.spec.ts; README, sharp edges.
   */
  async onInstall(event?: unknown): Promise<BootstrapResult | null> {
    const ctx = await this.ready();
    const installing = bootstrap(ctx, event);
    this.installing = installing;
    const result = await installing.finally(() => {
      this.installing = null;
    });
    // During `install` this resolves at once and starts nothing: the activation is attempted when
    // `install` ends.
    await this.adapter.skipWaiting();
    this.skipWaitingTimer = this.adapter.setTimeout(() => {
      this.skipWaitingTimer = null;
      if (!this.activating) this.adapter.skipWaiting().catch((e) => this.log.warn(`skipWaiting: ${describeError(e)}`));
    }, SKIP_WAITING_AGAIN_MS);
    return result;
  }

  /**
   * Activation does only local work; the first check-in and any due tasks start once it is done,
   * not inside it. While a worker is activating, the browser holds every fetch of the pages it
   * controls (a navigation, a lazy chunk) until activation ends: a slow check-in, or a plan's
   * downloads, would hold them too. That work gets events of its own instead: a Background Sync
   * registration where the browser has it (the sync event checks in, as it is due), and else the
   * next fetch, message or page nudge (`wake`). `idle()` includes it, for whoever keeps the worker
   * alive.
   */
  async onActivate(): Promise<void> {
    this.activating = true;
    if (this.skipWaitingTimer !== null) this.adapter.clearTimeout(this.skipWaitingTimer);
    this.skipWaitingTimer = null;
    await this.guard('activate', async () => {
      await this.adapter.claim();
      // The parts cache holds the only copy; the precache served its purpose at install.
      await this.adapter.dropPrecache().catch((e) => this.log.warn(`drop ${PRECACHE_CACHE}: ${describeError(e)}`));
      const ctx = await this.ready();
      await this.pinClaimed(ctx);
      await this.checkBoot();
      await collectGarbage(ctx);
    });
    this.afterActivate = this.guard('after activate', async () => {
      const runner = await this.runner();
      await runner.requestSync();
      await this.checkInNow();
      await runner.run();
    }).finally(() => {
      this.afterActivate = null;
    });
  }

  /** Any wake-up (sync, periodic sync, messages, fetches): check in if due, run due tasks, flush reports. */
  async wake(reason: string, throttle = false): Promise<void> {
    // Not throttled: the deadline must be seen at every wake-up, and it costs no read unless due.
    await this.checkBoot();
    const now = this.adapter.now();
    if (throttle && now - this.lastWake < WAKE_THROTTLE_MS) return this.bootGuard?.idle();
    this.lastWake = now;
    await this.guard(`wake (${reason})`, async () => {
      const ctx = await this.ready();
      if (await checkInDue(ctx)) await this.checkInNow();
      // No flush here: the runner flushes the outbox when its drain ends. A wake-up in the middle of
      // a plan (a page's nudge) used to send `downloaded` alone, a request before `activated`'s.
      await (await this.runner()).run();
    });
  }

  /** Resolves once the task runner and the boot guard have nothing in flight (for `waitUntil`). */
  async idle(): Promise<void> {
    await this.afterActivate;
    await this.bootGuard?.idle();
    await this.runnerInstance?.idle();
  }

  async onSync(tag: string): Promise<void> {
    if (tag === SYNC_TAG) await this.wake('sync');
  }

  async onPeriodicSync(tag: string): Promise<void> {
    if (tag !== PERIODIC_TAG) return;
    await this.checkBoot();
    await this.guard('periodic sync', async () => {
      await this.checkInNow();
      await (await this.runner()).run();
    });
  }

  /** Checks in; on a stored plan asks for Background Sync and kicks the runner (not awaited). */
  async checkInNow(): Promise<CheckNowReply> {
    const ctx = await this.ready();
    // A failed install checks in as before: with no release, as a worker that holds none.
    await this.installing?.catch(() => {});
    const reply = await checkIn(ctx);
    if (reply.result === 'update') {
      const runner = await this.runner();
      await runner.requestSync();
      void runner.run();
    }
    return reply;
  }

  // ---- messages ----

  async onMessage(data: unknown, sourceId: string | null): Promise<SwReply> {
    const type = (data as PageRequest | null)?.type;
    try {
      switch (type) {
        case 'updraft:check-now':
          return { ok: true, value: await this.checkInNow() };
        case 'updraft:apply':
          return { ok: true, value: await this.apply() };
        case 'updraft:wake':
          await this.wake('page');
          return { ok: true, value: null };
        case 'updraft:hello':
          return { ok: true, value: await this.hello(sourceId) };
        case 'updraft:ready':
          return { ok: true, value: await this.confirmReady(sourceId) };
        case 'updraft:state':
          return { ok: true, value: await this.state() };
        default:
          return { ok: false, code: 'bad_request', message: `unknown message ${String(type)}` };
      }
    } catch (e) {
      this.log.error(`message ${String(type)}`, e);
      const code = isErrorCode((e as { code?: unknown }).code) ? (e as { code: 'internal' }).code : 'internal';
      return { ok: false, code, message: describeError(e) };
    }
  }

  /** `updraft:apply`: the prompt policy's consent. Activates now when staged, else once the plan gets there. */
  async apply(): Promise<{ release: string | null }> {
    const ctx = await this.ready();
    const [stored, ptr] = await Promise.all([ctx.store.getPlan(), ctx.store.pointers()]);
    // A live plan to another release than the staged one supersedes it (a newer release, or a
    // roll back from the staged one): the consent goes to that plan, never to the staged release.
    const superseding = stored !== null && ptr.staged !== null && stored.plan.to !== ptr.staged && stored.plan.to !== ptr.active;
    if (stored && !stored.failure && (stored.plan.activation === 'prompt' || superseding)) {
      await ctx.store.updatePlan(stored.plan.planId, { applied: true });
      await (await this.runner()).run();
      return { release: (await ctx.store.pointers()).active };
    }
    // Superseded by a plan that failed since: still not the staged release's turn (it may be the
    // one a roll back moved away from); the server offers again at the next check-in.
    if (superseding) return { release: ptr.active };
    const id = await switchToStaged(ctx, 'prompt');
    if (id) await collectGarbage(ctx);
    return { release: id ?? (await ctx.store.pointers()).active };
  }

  /**
   * `updraft:ready`: the asking page booted. Its pin says which release that confirms, unless the
   * network answered its document: then it ran other bytes, and confirms nothing.
   */
  async confirmReady(sourceId: string | null): Promise<ReadyReply> {
    const ctx = await this.ready();
    const pinned = (sourceId ? ctx.pins.get(sourceId) : undefined) ?? null;
    return (await this.boots()).confirm(pinned, sourceId !== null && ctx.fromNetwork.has(sourceId));
  }

  async hello(sourceId: string | null): Promise<HelloReply> {
    const ctx = await this.ready();
    const ptr = await ctx.store.pointers();
    const release = (sourceId ? ctx.pins.get(sourceId) : undefined) ?? ptr.active;
    const manifest = release ? await loadRelease(ctx, release) : undefined;
    const staged = ptr.staged ? await loadRelease(ctx, ptr.staged) : undefined;
    const plan = await ctx.store.getPlan();
    const policy = plan && plan.plan.to === ptr.staged ? plan.plan.activation : 'prompt';
    // A staged release a live plan to another one supersedes is not announced: applying goes to that plan.
    const superseded = pendingTarget(plan, ptr) !== null;
    const pending = staged && !superseded ? { release: staged.id, version: staged.version, policy } : null;
    const nextCheckInAt = (await ctx.store.getMeta('nextCheckInAt')) ?? null;
    return { release, version: manifest?.version ?? null, active: ptr.active, staged: ptr.staged, pending, nextCheckInAt };
  }

  // ---- fetch ----

  /** The response for `input`, or null to let the browser handle it. Never rejects. */
  onFetch(input: FetchInput): Promise<Response> | null {
    const { request } = input;
    const r = route({ url: request.url, method: request.method, mode: request.mode, cache: request.cache }, this.urls);
    if (r.kind === 'pass') return null;
    // One network request at most: a failure while serving goes to the network, but the network's
    // own failure (offline) is the page's answer. Retrying it from the error path sent every
    // failed request twice, and held the page twice as long on a link that hangs.
    return this.answer(input, r)
      .catch((e: unknown) => {
        this.log.error(`fetch ${request.url}`, e);
        return null;
      })
      .then((response) => response ?? this.adapter.fetch(request));
  }

  /** The answer from the release, or null for the network. */
  private async answer(input: FetchInput, r: Exclude<ReturnType<typeof route>, { kind: 'pass' }>): Promise<Response | null> {
    const { request } = input;
    if (r.kind === 'debug') {
      const state = await this.state();
      return r.format === 'json'
        ? new Response(JSON.stringify(state, null, 2), { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } })
        : new Response(renderState(state), { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
    }
    const ctx = await this.ready();
    const navigate = r.kind === 'navigate';
    let releaseId: string | null | undefined;
    if (navigate) {
      // Before picking the release: a navigation after the deadline gets the previous one.
      await this.checkBoot();
      // An iframe navigated again stays on its page's release. Chromium (156, seen in e2e) names
      // the document the frame held as `FetchEvent.clientId`, whoever started the navigation: a
      // client in the same frame, so of the same page, whose pin is the page's release. The spec
      // now says navigations carry no `clientId` (w3c/ServiceWorker#1832, 2026): where a browser
      // sends none, such a navigation gets the active release, as a new iframe's does in Chromium
      // too (its `clientId` is empty, and a `Client` names no parent; README, sharp edges).
      const frame = isFrame(request) && input.clientId ? ctx.pins.get(input.clientId) : undefined;
      releaseId = frame ?? (await ctx.store.pointers()).active;
    }
    else releaseId = await this.clientRelease(ctx, input.clientId);
    const release = releaseId ? await loadRelease(ctx, releaseId) : undefined;
    if (!release) return null;
    const asset = resolveAsset(release, r.path, navigate);
    // The new page's pin is written while its document is read from the cache, not after: the
    // document waits for both, so the page's first subresource finds the pin stored. A worker a
    // page starts (its script's request names the new client) runs the page's release: its own
    // requests must not follow a later activation while the page stays. A page the network
    // answers (a file the release lacks, `report.pdf`; an entry whose part is neither cached nor
    // refetchable) is pinned likewise: its subresources come from this release now, and must
    // after the next activation too, or the page would mix two releases.
    const spawns = navigate || isWorkerScript(request);
    const pinning = spawns && input.resultingClientId ? this.pin(ctx, input.resultingClientId, release.id) : null;
    let response: Response | null = null;
    try {
      // A navigation's Range is not the page's to slice: documents are answered whole.
      if (asset) response = await serveAsset(ctx, asset, navigate ? null : request.headers.get('range'));
    } finally {
      await pinning;
      // The network answers (`onFetch`'s fallback): the pin stays, so the page's
      // subresources come from this release, but the page did not run this release's document and
      // its ready() must not confirm the release (readiness.ts `judgeReady`).
      if (pinning && !response) await this.pin(ctx, input.resultingClientId, release.id, true);
    }
    if (!response) return null;
    if (pinning && navigate) {
      // Only a page that is pinned can confirm: start the clock when one can.
      await (await this.boots()).served(release.id).catch((e) => this.log.warn(`boot clock: ${describeError(e)}`));
    }
    return response;
  }

  /**
   * Windows that loaded before this worker controlled them (the first visit) never navigated
   * through it, so no pin says which release they run. They run the one just installed from the
   * same origin: pin them to the active release, or their lazy chunks would follow the next
   * activation to a release that lacks them.
   */
  private async pinClaimed(ctx: SwContext): Promise<void> {
    const active = (await ctx.store.pointers()).active;
    if (!active) return;
    for (const w of await this.adapter.windows()) {
      // The network answered these documents: their ready() confirms nothing (a window
      // shift-reloaded past a watched release's worker, claimed by a new worker script).
      if (!ctx.pins.has(w.id)) await this.pin(ctx, w.id, active, true);
    }
  }

  /**
   * The release answering a subresource of `clientId`: its pin; for a client no pin knows, the
   * active release, which it is pinned to from now on. Such a client navigated without naming
   * itself (`FetchEvent.resultingClientId` empty, or absent in a browser without it), or started
   * without a fetch through this worker (a `blob:` worker); unpinned, its later requests would
   * follow the next activation and mix releases. Its first request comes right after its document, so the release
   * active now is the one that served it, unless an activation fell in between.
   */
  private async clientRelease(ctx: SwContext, clientId: string): Promise<string | null> {
    const pinned = clientId ? ctx.pins.get(clientId) : undefined;
    if (pinned) return pinned;
    const active = (await ctx.store.pointers()).active;
    if (!clientId || !active) return active;
    // Another request of the same client may have pinned it while the pointers were read.
    const meanwhile = ctx.pins.get(clientId);
    if (meanwhile) return meanwhile;
    await this.pin(ctx, clientId, active);
    return active;
  }

  /** Pins `clientId` to `release`; `network`: the network, not the release, answered its document. */
  private async pin(ctx: SwContext, clientId: string, release: string, network = false): Promise<void> {
    ctx.pins.set(clientId, release);
    if (network) ctx.fromNetwork.add(clientId);
    else ctx.fromNetwork.delete(clientId);
    try {
      await ctx.store.putPin({ clientId, release, createdAt: this.adapter.now(), ...(network ? { network: true as const } : {}) });
    } catch (e) {
      this.log.warn(`pin ${clientId}: ${describeError(e)}`);
    }
  }

  // ---- state ----

  async state(): Promise<SwDebugState> {
    let ctx: SwContext | null = null;
    try {
      ctx = await this.ready();
    } catch (e) {
      this.degrade(`init failed: ${describeError(e)}`);
    }
    if (!ctx) {
      return { client: null, mode: this.mode, why: this.why, active: null, staged: null, nextCheckInAt: null, holdUntil: {}, plan: null, pins: [], boot: null, bad: [], releases: [], parts: 0, log: this.log.tail() };
    }
    const { store } = ctx;
    const [ptr, stored, pins, releases, keys, next, holds, boot, bad] = await Promise.all([
      store.pointers(),
      store.getPlan(),
      store.pins(),
      store.releaseIds(),
      ctx.parts.keys(),
      store.getMeta('nextCheckInAt'),
      store.getMeta('holds'),
      store.getMeta('boot'),
      store.getMeta('badReleases'),
    ]);
    const checkInHold = await store.getMeta('checkInHoldUntil');
    const holdUntil: Record<string, number> = { ...(holds ?? {}) };
    if (checkInHold && checkInHold > this.adapter.now()) holdUntil['check-in'] = checkInHold;
    const noActive = ptr.active === null;
    return {
      client: ctx.clientId,
      mode: noActive ? 'degraded' : this.mode,
      why: noActive ? (this.why ?? 'no active release') : this.why,
      active: ptr.active,
      staged: ptr.staged,
      nextCheckInAt: next ?? null,
      holdUntil,
      plan: stored && {
        planId: stored.plan.planId,
        from: stored.plan.from,
        to: stored.plan.to,
        activation: stored.plan.activation,
        applied: stored.applied === true,
        tasks: stored.plan.tasks.map((t) => {
          const rec = stored.tasks[t.id];
          return {
            id: t.id,
            kind: t.kind,
            state: rec?.state ?? 'pending',
            attempts: rec?.attempts ?? 0,
            nextAttemptAt: rec?.nextAttemptAt ?? 0,
            lastError: rec?.lastError ?? null,
            ...(t.kind === 'fetch' ? { sha256: t.sha256 } : {}),
          };
        }),
      },
      pins: pins.map((p) => ({ clientId: p.clientId, release: p.release, ...(p.network ? { network: true as const } : {}) })),
      boot: boot ? { release: boot.release, previous: boot.previous, deadline: boot.deadline } : null,
      bad: (bad ?? []).map((b) => b.release),
      releases,
      parts: keys.length,
      log: this.log.tail(),
    };
  }

  private async guard(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      this.log.error(what, e);
    }
  }
}

/** A navigation inside a page: an iframe's (or a frameset's frame's) document. */
function isFrame(request: Request): boolean {
  return request.destination === 'iframe' || request.destination === 'frame';
}

/** A dedicated or shared worker's script: its request creates a client, as a navigation does. */
function isWorkerScript(request: Request): boolean {
  return request.destination === 'worker' || request.destination === 'sharedworker';
}
