import type { BrowserContext, CDPSession, Page } from '@playwright/test';
import { DEBUG_STATE_JSON_PATH, type CheckNowReply, type PageRequest, type SwDebugState, type SwReply } from '../../protocol/index.js';

export interface WaitOptions {
  /** @default 15000 */
  timeout?: number;
}

/** The tag the Updraft SW registers for its task runs. */
export const TASKS_SYNC_TAG = 'updraft-tasks';
/** The tag the Updraft SW registers for periodic check-ins. */
export const CHECK_IN_SYNC_TAG = 'updraft-check-in';

/**
 * A new worker that still waits this long is asked again to activate (`#waitingWorker`): after
 * the worker's own second ask (`SKIP_WAITING_AGAIN_MS` in sw/runtime.ts), so the kit only helps where it failed.
 */
const NUDGE_AFTER_MS = 2_000;

/** How long offline()/online() try to start the stopped workers that hold `context.setOffline`. */
const SET_OFFLINE_TIMEOUT_MS = 10_000;
/** How long `stopWorker()` waits to see the workers stopped. */
const STOP_WAIT_MS = 2_000;

/**
 * Drives one page's Updraft service worker deterministically: Background Sync and periodic sync
 * dispatched through CDP, the worker stopped as a browser would, the network cut, and waits on the
 * SW's own debug state instead of guessed sleeps.
 */
export class UpdraftDriver {
  readonly page: Page;
  readonly context: BrowserContext;
  #cdp: CDPSession | null = null;
  #registrations = new Map<string, { scopeURL: string; isDeleted: boolean }>();
  /** Every worker version CDP reported (by version id): which one waits to activate, and since when. */
  #versions = new Map<string, { registrationId: string; status: string; runningStatus: string; since: number; stops: number }>();
  #lastNudge = 0;

  constructor(page: Page) {
    this.page = page;
    this.context = page.context();
  }

  get origin(): string {
    return new URL(this.page.url()).origin;
  }

  /** Opens the CDP session on the page (the browser-level session has no ServiceWorker domain). */
  async #session(): Promise<CDPSession> {
    if (this.#cdp) return this.#cdp;
    const cdp = await this.context.newCDPSession(this.page);
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      for (const r of e.registrations) this.#registrations.set(r.registrationId, { scopeURL: r.scopeURL, isDeleted: r.isDeleted });
    });
    cdp.on('ServiceWorker.workerVersionUpdated', (e) => {
      for (const v of e.versions) {
        const before = this.#versions.get(v.versionId);
        const since = before?.status === v.status ? before.since : Date.now();
        // Times this version was seen reaching `stopped`: what `stopWorker()` waits for.
        const stops = (before?.stops ?? 0) + (v.runningStatus === 'stopped' && before?.runningStatus !== 'stopped' ? 1 : 0);
        this.#versions.set(v.versionId, { registrationId: v.registrationId, status: v.status, runningStatus: v.runningStatus, since, stops });
      }
    });
    await cdp.send('ServiceWorker.enable');
    this.#cdp = cdp;
    return cdp;
  }

  /**
   * The registration whose scope covers the page: of several on the origin (the app's worker at
   * `/` and another at `/push/`, say), the longest matching scope, as the browser picks the one
   * that controls a page. The first one of the origin would be whichever registered first.
   */
  #covering(): { registrationId: string; scopeURL: string } | null {
    const url = this.page.url();
    let best: { registrationId: string; scopeURL: string } | null = null;
    for (const [registrationId, r] of this.#registrations) {
      if (!r.isDeleted && url.startsWith(r.scopeURL) && (!best || r.scopeURL.length > best.scopeURL.length)) best = { registrationId, scopeURL: r.scopeURL };
    }
    return best;
  }

  /** What a dispatch names: the covering registration and its origin. */
  async #registration(): Promise<{ registrationId: string; origin: string }> {
    await this.#session();
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = this.#covering();
      if (found) return { registrationId: found.registrationId, origin: new URL(found.scopeURL).origin };
      if (Date.now() > deadline) {
        const url = this.page.url();
        const origin = new URL(url).origin;
        const scopes = [...this.#registrations.values()].filter((r) => !r.isDeleted && new URL(r.scopeURL).origin === origin).map((r) => r.scopeURL);
        const others = scopes.length ? `; ${origin} has ${scopes.join(', ')}` : '';
        throw new Error(`updraft/playwright: no service worker registration covers the page (${url})${others}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Fires a Background Sync event at the SW (default: the task-run tag). Go online first: a dispatch while offline is lost. */
  async sync(tag: string = TASKS_SYNC_TAG): Promise<void> {
    const cdp = await this.#session();
    await cdp.send('ServiceWorker.dispatchSyncEvent', { ...(await this.#registration()), tag, lastChance: false });
  }

  /** Fires a periodic sync event (default: the check-in tag). */
  async periodicSync(tag: string = CHECK_IN_SYNC_TAG): Promise<void> {
    const cdp = await this.#session();
    await cdp.send('ServiceWorker.dispatchPeriodicSyncEvent', { ...(await this.#registration()), tag });
  }

  /**
   * Stops every service worker as the browser does when it reclaims one; the next event starts a
   * fresh one. Resolves once each worker that ran has stopped (CDP's `runningStatus`), not when the
   * stop was merely asked for: an event dispatched to a worker still `stopping` raced its stop (a
   * CI run saw Chromium crash on a sync dispatched right after). Bounded: a worker that a request
   * starts again at once may never be seen stopped, and the wait then ends after
   * `STOP_WAIT_MS`.
   */
  async stopWorker(): Promise<void> {
    const cdp = await this.#session();
    const running = [...this.#versions].filter(([, v]) => v.runningStatus !== 'stopped').map(([id, v]) => [id, v.stops] as const);
    await cdp.send('ServiceWorker.stopAllWorkers');
    const deadline = Date.now() + STOP_WAIT_MS;
    while (running.some(([id, stops]) => (this.#versions.get(id)?.stops ?? stops) === stops) && Date.now() < deadline && !this.page.isClosed()) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async offline(): Promise<void> {
    await this.#setOffline(true);
  }

  async online(): Promise<void> {
    await this.#setOffline(false);
  }

  /**
   * `context.setOffline` also applies to the context's service worker targets, and one whose worker
   * was stopped does not answer until the worker runs again: the call hangs, and the restarted worker
   * may keep the old network state (seen with Playwright 1.65, Chromium 156). So: start the workers
   * (through CDP, whatever page this is: one that left the app, or a new tab, cannot start them
   * with a fetch; then with a page fetch of the debug state too), then apply the state again while
   * they run. Bounded: an error says what held it instead of a hang until the test's timeout.
   */
  async #setOffline(offline: boolean): Promise<void> {
    const applied = this.context.setOffline(offline).then(() => true);
    // Given up on below with an error of ours: its late rejection (context closed) is not the test's.
    applied.catch(() => {});
    const within = (ms: number) => Promise.race([applied, new Promise<false>((r) => setTimeout(() => r(false), ms))]);
    if (await within(250)) return;
    const cdp = await this.#session();
    const deadline = Date.now() + SET_OFFLINE_TIMEOUT_MS;
    for (;;) {
      // Registrations arrive as events after ServiceWorker.enable: ask each round.
      for (const { scopeURL, isDeleted } of this.#registrations.values()) {
        if (!isDeleted) await cdp.send('ServiceWorker.startWorker', { scopeURL }).catch(() => {});
      }
      await this.state({ timeout: 1_000 }).catch(() => {});
      if (await within(250)) break;
      if (Date.now() > deadline) {
        const scopes = [...this.#registrations.values()].filter((r) => !r.isDeleted).map((r) => r.scopeURL);
        throw new Error(
          `updraft/playwright: context.setOffline(${offline}) did not complete within ${SET_OFFLINE_TIMEOUT_MS} ms: a stopped service worker of this context holds it until it runs again, and starting ${scopes.length ? scopes.join(', ') : 'the workers (none known)'} did not (page: ${this.page.url()})`,
        );
      }
    }
    await this.context.setOffline(!offline);
    await this.context.setOffline(offline);
  }

  /** Sends a request to the controlling SW through a MessageChannel, as `updraft/client` does. */
  async message<T>(request: PageRequest, { timeout = 15_000 }: WaitOptions = {}): Promise<T> {
    const reply = await this.page.evaluate(
      async ({ request, timeout }) => {
        const deadline = Date.now() + timeout;
        // about:blank (no goto yet, or a page that left the app) or an insecure origin: say so, not a TypeError.
        if (!('serviceWorker' in navigator)) throw new Error(`${location.href} has no navigator.serviceWorker (${isSecureContext ? 'not the app' : 'not a secure context'}): go to the app first`);
        // `ready` never settles on a page no worker registered for: race it, or this evaluate (and
        // the caller's timeout with it) would wait for the test's own timeout.
        let waiting: ReturnType<typeof setTimeout> | undefined;
        const reg = await Promise.race([
          navigator.serviceWorker.ready,
          new Promise<never>((_, reject) => {
            waiting = setTimeout(async () => {
              const found = await navigator.serviceWorker.getRegistration();
              const what = found ? `no service worker of ${found.scope} became active` : `no service worker is registered for ${location.href}`;
              reject(new Error(`${what} within ${timeout} ms (awaiting navigator.serviceWorker.ready for ${request.type})`));
            }, timeout);
          }),
        ]).finally(() => clearTimeout(waiting));
        const sw = navigator.serviceWorker.controller ?? reg.active;
        if (!sw) throw new Error('no active service worker');
        return await new Promise<unknown>((resolve, reject) => {
          const channel = new MessageChannel();
          const timer = setTimeout(() => reject(new Error(`no reply to ${request.type} within ${timeout} ms`)), Math.max(0, deadline - Date.now()));
          channel.port1.onmessage = (e) => {
            clearTimeout(timer);
            resolve(e.data);
          };
          sw.postMessage(request, [channel.port2]);
        });
      },
      { request, timeout },
    );
    const r = reply as SwReply<T>;
    if (!r.ok) throw Object.assign(new Error(`${r.code}: ${r.message}`), { code: r.code });
    return r.value;
  }

  /** Asks the SW to check in now; resolves with what the server answered. */
  checkNow(): Promise<CheckNowReply> {
    return this.message<CheckNowReply>({ type: 'updraft:check-now' });
  }

  /** The SW's debug state, fetched through the SW from the page (which restarts a stopped SW). */
  async state({ timeout = 5_000 }: WaitOptions = {}): Promise<SwDebugState> {
    return this.page.evaluate(
      async ({ path, timeout }) => {
        if (!('serviceWorker' in navigator)) throw new Error(`${location.href} has no navigator.serviceWorker (${isSecureContext ? 'not the app' : 'not a secure context'}): go to the app first`);
        const ctl = new AbortController();
        let registered = false;
        let why = `no debug state within ${timeout} ms`;
        // One timer bounds both the wait for a worker and the fetch: `ready` never settles on a
        // page no worker registered for, and the caller's timeout must hold there too.
        const timer = setTimeout(async () => {
          if (!registered) {
            const found = await navigator.serviceWorker.getRegistration();
            const what = found ? `no service worker of ${found.scope} became active` : `no service worker is registered for ${location.href}`;
            why = `${what} within ${timeout} ms (awaiting navigator.serviceWorker.ready for the debug state)`;
          }
          ctl.abort();
        }, timeout);
        const aborted = new Promise<never>((_, reject) => ctl.signal.addEventListener('abort', () => reject(new Error(why))));
        aborted.catch(() => {}); // only raced while awaiting `ready`; the fetch reports its own abort below
        try {
          const reg = await Promise.race([navigator.serviceWorker.ready, aborted]);
          registered = true;
          const res = await fetch(new URL(path, reg.scope).href, { cache: 'no-store', signal: ctl.signal }).catch((e: unknown) => {
            throw ctl.signal.aborted ? new Error(why) : e;
          });
          if (!res.ok) throw new Error(`debug state answered ${res.status}`);
          return (await res.json()) as SwDebugState;
        } finally {
          clearTimeout(timer);
        }
      },
      { path: DEBUG_STATE_JSON_PATH, timeout },
    );
  }

  /** Polls the SW's state until `predicate` holds; the last state is in the timeout error. */
  waitForState(predicate: (s: SwDebugState) => boolean, { timeout = 15_000 }: WaitOptions = {}, what = 'state'): Promise<SwDebugState> {
    return this.#poll(predicate, Date.now() + timeout, timeout, what);
  }

  /** waitForState() up to `deadline`, which the caller may have started earlier: its error names the caller's whole `timeout`. */
  async #poll(predicate: (s: SwDebugState) => boolean, deadline: number, timeout: number, what: string): Promise<SwDebugState> {
    let last: SwDebugState | null = null;
    let lastError: unknown = null;
    let waiting = false;
    // Version updates arrive from here on: whether a new worker waits is known without a read.
    await this.#session().catch(() => {});
    for (;;) {
      try {
        waiting = await this.#waitingWorker();
        if (!waiting) {
          // Each poll gets what is left (at most state()'s default), so `timeout` bounds the whole wait.
          last = await this.state({ timeout: Math.max(1, Math.min(5_000, deadline - Date.now())) });
          if (predicate(last)) return last;
        }
      } catch (e) {
        lastError = e;
      }
      // Nothing can hold any more: say so now, instead of polling a closed page until the deadline
      // (after a test that timed out, that loop outlived it, on into the worker's next tests).
      if (this.page.isClosed()) throw new Error(`updraft/playwright: the page closed while waiting for ${what}`);
      if (Date.now() > deadline) {
        const detail = `${waiting ? 'a new service worker is still waiting to activate; ' : ''}${last ? JSON.stringify({ active: last.active, staged: last.staged, plan: last.plan, log: last.log.slice(-10) }) : String(lastError)}`;
        throw new Error(`updraft/playwright: timed out after ${timeout} ms waiting for ${what}; last: ${detail}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Whether a new worker of the registration covering this page waits to activate; if it has waited for
   * `NUDGE_AFTER_MS` while the worker it replaces runs, asks Chromium again to activate it when
   * that one is idle (`ServiceWorker.skipWaiting`: what the Updraft worker asked at install). Reads
   * of the state wait meanwhile: each is a fetch the outgoing worker answers. One that arrives while
   * Chromium stops that worker for the activation starts it again, and the new instance is not
   * told: with DevTools attached (Playwright) it is then never stopped as idle, and the new worker
   * waits 5 minutes (without DevTools, until the old one has been idle for 30 s). README, sharp edges.
   */
  async #waitingWorker(): Promise<boolean> {
    const cdp = this.#cdp;
    if (!cdp) return false;
    const registrationId = this.#covering()?.registrationId;
    const ours = [...this.#versions.values()].filter((v) => v.registrationId === registrationId);
    const waiting = ours.find((v) => v.status === 'installed');
    if (!waiting) return false;
    const outgoing = ours.find((v) => v.status === 'activated' || v.status === 'activating');
    const now = Date.now();
    if (outgoing?.runningStatus === 'running' && now - waiting.since >= NUDGE_AFTER_MS && now - this.#lastNudge >= NUDGE_AFTER_MS) {
      this.#lastNudge = now;
      await cdp.send('ServiceWorker.skipWaiting', { scopeURL: this.#registrations.get(waiting.registrationId)!.scopeURL });
    }
    return true;
  }

  /** Waits until `release` is the SW's active release. */
  waitForRelease(release: string, options?: WaitOptions): Promise<SwDebugState> {
    return this.waitForState((s) => s.active === release, options, `release ${release} to be active`);
  }

  /**
   * The whole move to `release`, as most tests want it: a check-in that must offer `release` (it
   * fails at once with the server's answer when it offers anything else), a Background Sync to run
   * the plan now, then a wait until `release` is active. A worker already on `release` passes at
   * once, without checking in. `timeout` bounds the whole move. Open pages keep the release they
   * loaded with until they navigate.
   */
  async updateTo(release: string, { timeout = 15_000 }: WaitOptions = {}): Promise<SwDebugState> {
    const deadline = Date.now() + timeout;
    const left = () => Math.max(1, deadline - Date.now());
    // Before any check-in: one would start the plan to whatever newer release the server offers.
    const before = await this.state({ timeout: Math.min(5_000, left()) });
    if (before.active === release) return before;
    const reply = await this.message<CheckNowReply>({ type: 'updraft:check-now' }, { timeout: left() });
    if (reply.result === 'current') {
      // The first install may have finished on `release` since the state above.
      const now = await this.state({ timeout: Math.min(5_000, left()) });
      if (now.active === release) return now;
    }
    if (reply.result !== 'update' || reply.release !== release) {
      throw new Error(`updraft/playwright: the check-in did not offer ${release}: ${JSON.stringify(reply)}`);
    }
    await this.sync();
    return this.#poll((s) => s.active === release, deadline, timeout, `release ${release} to be active`);
  }

  /** Waits until the SW has an active release and controls the page (the first install finished). */
  async waitForActivated({ timeout = 15_000 }: WaitOptions = {}): Promise<SwDebugState> {
    // One deadline for both stages, so `timeout` bounds the whole wait.
    const deadline = Date.now() + timeout;
    try {
      // `?.`: a page still on about:blank (the goto comes next) has no navigator.serviceWorker yet.
      await this.page.waitForFunction(() => (navigator.serviceWorker?.controller ?? null) !== null, undefined, { timeout });
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'TimeoutError') throw err;
      const last = await this.page
        .evaluate(async () => {
          if (!('serviceWorker' in navigator)) return `${location.href} has no navigator.serviceWorker (${isSecureContext ? 'not the app' : 'not a secure context'}): go to the app first`;
          const reg = await navigator.serviceWorker.getRegistration();
          const registration = reg ? { scope: reg.scope, installing: reg.installing?.state ?? null, waiting: reg.waiting?.state ?? null, active: reg.active?.state ?? null } : null;
          return JSON.stringify({ controller: navigator.serviceWorker.controller?.scriptURL ?? null, registration });
        })
        .catch((e: unknown) => String(e));
      throw new Error(`updraft/playwright: timed out after ${timeout} ms waiting for a service worker to control the page; last: ${last}`);
    }
    return this.#poll((s) => s.active !== null, deadline, timeout, 'an active release');
  }

  /** Waits until the current plan has no unfinished task (or no plan is left). */
  waitForPlanSettled(options?: WaitOptions): Promise<SwDebugState> {
    return this.waitForState((s) => s.plan === null || s.plan.tasks.every((t) => t.state === 'done' || t.state === 'failed'), options, 'the plan to settle');
  }
}
