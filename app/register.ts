import * as workboxWindow from 'workbox-window';

// workbox-window's Node entry is a UMD bundle whose named exports Node cannot see: take its exports
// from the namespace or its default, so importing `updraft/client` during SSR or in Node tests works.
// `Reflect.get`, not `.default`: bundlers (Vite 8's Rolldown) warn on every build of the app
// that the ESM build has no default export, which is true and harmless here.
const workboxExports: typeof workboxWindow = workboxWindow.Workbox ? workboxWindow : (Reflect.get(workboxWindow, 'default') as typeof workboxWindow);
const { Workbox, messageSW } = workboxExports;
import { UpdraftError } from '../protocol/errors.js';
import type { CheckNowReply, HelloReply, PageRequest, ReadyReply, UpdraftEvent } from '../protocol/messages.js';
import { BYPASSED_READY, bypassedError, bypassedHello, judgeControl, type Control } from './control.js';
import { createEmitter, eventFromMessage, type UpdraftEventHandler, type UpdraftEventName } from './events.js';
import { resolveRegisterOptions, type RegisterOptions } from './options.js';
import { request } from './request.js';
import { createWakeTimer, hasBackgroundSync } from './wake.js';

/** A staged release waiting for activation, as `update-ready` announced it. */
export type PendingUpdate = NonNullable<HelloReply['pending']>;

export interface Updraft {
  /**
   * Subscribes to the SW's broadcasts from now on (a handler added later does not get earlier
   * events: read `pending` for the one that matters); the returned function unsubscribes.
   */
  on<N extends UpdraftEventName>(name: N, handler: UpdraftEventHandler<N>): () => void;
  /** Asks the SW to check in with the update server now. */
  checkNow(): Promise<CheckNowReply>;
  /**
   * Activates the staged release (the `prompt` policy), then reloads this page so its navigation
   * gets it. With nothing to activate, while this page runs the active release, it resolves
   * without a reload. Rejects with code `withdrawn`, without a reload, when the server withdrew the update
   * (a `withdrawn` event since the last `update-ready`/`update-available`, or while it waits).
   */
  applyUpdate(): Promise<void>;
  /** Which release serves this page, and which are active and staged. */
  release(): Promise<HelloReply>;
  /**
   * Tells the SW this page booted: call it once the app rendered, on every load. A newly activated
   * release that no page it served confirms within `bootTimeoutMs` of its first page is rolled
   * back. The SW confirms the release that served this page by its own record, not by anything the
   * page claims. Waits for `controlled`; rejects (code `internal`) without a service worker. On a
   * page loaded past its worker (a hard reload) it resolves `{ release: null, result: 'network' }`:
   * the network answered the page, so it confirms no release.
   */
  ready(): Promise<ReadyReply>;
  /**
   * The update this page was told is ready (the last `update-ready`, also the one a page that loads
   * while an update waits is told), until a `withdrawn`, an `activated` or an `update-available` for
   * another release ends it; else null. For a listener that subscribes after the event came.
   */
  readonly pending: PendingUpdate | null;
  /**
   * Resolves once a service worker controls this page; rejects if registration failed or the page
   * is outside the scope (code `internal`), or with code `uncontrolled` if the page was loaded past
   * its active worker (a hard reload): the other requests still reach that worker then.
   */
  controlled: Promise<void>;
  /**
   * The workbox-window instance, for anything Updraft does not wrap; null where this page has no
   * service workers (workbox-window cannot be constructed there).
   */
  workbox: workboxWindow.Workbox | null;
}

/**
 * Registers the Updraft service worker and connects this page to it. Call it once per page.
 * It never throws where the page has no service workers (an insecure origin, a sandboxed iframe):
 * `controlled` then rejects, requests fail with code `internal`, and the page runs from the network.
 */
export function registerUpdraft(options: RegisterOptions = {}): Updraft {
  const o = resolveRegisterOptions(options);
  const { container, why } = serviceWorkerContainer();
  // workbox-window's constructor subscribes to `navigator.serviceWorker` at once: only where it is.
  const wb = container ? new Workbox(o.swUrl, o.scope === undefined ? undefined : { scope: o.scope }) : null;
  const emitter = createEmitter();
  const unavailable = () => new UpdraftError('internal', `service workers are not available here (${why}); the page runs from the network`);

  // Rejects once no worker will ever answer this page (registration failed, or the worker went
  // redundant before it controlled the page); never settles otherwise. Set below.
  let unanswered: Promise<never> = new Promise<never>(() => {});
  // Set once `register()` resolved: the registration, and whether a worker controls this page or will.
  let judged: Promise<{ control: Control; registration: ServiceWorkerRegistration }> | null = null;
  // Loaded past its worker (a hard reload) and still not controlled: `controlled` rejected, and
  // the page talks to the registration's active worker directly.
  const bypassed = async (): Promise<ServiceWorkerRegistration | null> => {
    if (!container || container.controller || !judged) return null;
    const { control, registration } = await judged;
    return control === 'bypassed' && !container.controller ? registration : null;
  };

  const send = async <T>(message: PageRequest, timeoutMs?: number | null): Promise<T> => {
    if (!wb) throw unavailable();
    // A page no worker controls waits for the registration's verdict: `messageSW` waits for a
    // worker workbox-window saw install or control this page, and on a page loaded past its
    // worker none ever comes. An active worker answers a MessageChannel without controlling the
    // page, and its broadcasts reach every window of its origin, controlled or not.
    const registration = await bypassed();
    // workbox-window posts to the worker it registered even when that one is gone, and nothing
    // answers: without the race a request waited out its timeout (90 s, none for apply).
    if (!registration) return Promise.race([request<T>((m) => wb.messageSW(m), message, timeoutMs), unanswered]);
    return request<T>((m) => {
      const worker = registration.active;
      if (!worker) throw new UpdraftError('internal', `the service worker of ${registration.scope} is no longer active`);
      return messageSW(worker, m);
    }, message, timeoutMs);
  };
  // What the worker answers as this page's release is its pin, else the active release: a page
  // loaded past it runs neither.
  const hello = async (): Promise<HelloReply> => {
    const reply = await send<HelloReply>({ type: 'updraft:hello' });
    return (await bypassed()) ? bypassedHello(reply) : reply;
  };

  // The release the worker last withdrew (`withdrawn`) since it last offered one
  // (`update-available`, `update-ready`): `applyUpdate()` then has nothing to apply.
  let withdrawn: string | null = null;
  let pending: PendingUpdate | null = null;

  let reloading = false;
  const reload = () => {
    if (reloading) return;
    reloading = true;
    location.reload();
  };

  const nudge = () => {
    send({ type: 'updraft:wake' }).catch(() => {
      // The SW retries on its next wake-up anyway; a failed nudge costs nothing.
    });
  };
  const wakeTimer = createWakeTimer(nudge);
  // Check-ins are due at a time the server chose, and no browser wakes a worker then (periodic
  // sync is for installed apps, at the browser's pace): an open page nudges it, in every browser.
  const checkInTimer = createWakeTimer(nudge);

  const handle = (event: UpdraftEvent) => {
    if (event.name === 'withdrawn') withdrawn = event.release;
    if (event.name === 'update-available' || event.name === 'update-ready') withdrawn = null;
    if (event.name === 'update-ready') pending = { release: event.release, version: event.version, policy: event.policy };
    // A plan to another release supersedes the staged one (the worker no longer announces it).
    else if (event.name === 'withdrawn' || event.name === 'activated' || (event.name === 'update-available' && event.release !== pending?.release)) pending = null;
    emitter.emit(event);
    if (event.name === 'activated' && event.policy === 'immediate' && o.onActivatedImmediate === 'reload') reload();
    if (event.name === 'wake-at' && !hasBackgroundSync()) wakeTimer.schedule(event.at);
    if (event.name === 'check-in-at') checkInTimer.schedule(event.at);
  };

  let controlled: Promise<void>;
  // Settles when this page can talk to a worker: `controlled`, or a page loaded past its worker.
  let connected: Promise<void>;
  if (!container || !wb) {
    controlled = Promise.reject(unavailable());
    connected = controlled;
  } else {
    // Listen on the container itself: workbox-window only forwards messages from the worker it
    // registered, and events must reach the page from whichever worker controls it.
    container.addEventListener('message', (e: MessageEvent) => {
      const event = eventFromMessage(e.data);
      if (event) handle(event);
    });
    // Messages are queued until this is called or the document finished parsing.
    container.startMessages();

    const hasController = new Promise<void>((resolve) => {
      if (container.controller) return resolve();
      container.addEventListener('controllerchange', () => resolve(), { once: true });
    });
    judged = wb.register().then((registration) => {
      if (!registration) throw new UpdraftError('internal', `service worker registration of ${o.swUrl} failed`);
      const control = judgeControl({
        controlled: container.controller !== null,
        href: location.href,
        scope: registration.scope,
        active: registration.active?.state ?? null,
        installing: registration.installing !== null,
        waiting: registration.waiting !== null,
      });
      return { control, registration };
    });
    const registered = judged.then(({ control, registration }) => {
      // A page outside the scope (an app built with base `/app/` opened at `/app`) is never
      // controlled: say so, rather than leave `controlled` and `ready()` waiting for good.
      if (control === 'outside-scope') {
        throw new UpdraftError('internal', `this page (${location.href}) is outside the service worker's scope ${registration.scope}: no worker will control it; open it under the scope`);
      }
      // Nor, until its next ordinary navigation, is a page loaded past its worker (a hard reload).
      if (control === 'bypassed') throw bypassedError();
    });
    // A worker whose install failed (its manifest or a file could not be had) goes redundant and
    // never controls this page: say so, rather than leave `controlled` and `ready()` waiting. The
    // browser tries again on a later navigation.
    // Under `vite dev` the plugin's stand-in goes the same way (it unregisters itself): the message
    // names both, since a page cannot tell them apart.
    const redundant = new Promise<never>((_, reject) => {
      wb.addEventListener('redundant', () => reject(new UpdraftError('internal', `the service worker ${o.swUrl} did not install (it went redundant): its manifest or a file could not be had, or, under vite dev, it is the plugin's stand-in, which removes itself; the page runs from the network`)));
    });
    controlled = Promise.race([hasController, registered.then(() => Promise.race([hasController, redundant]))]);
    // A page outside the scope is not `unanswered`: the worker is there and answers its requests.
    const never = new Promise<never>(() => {});
    unanswered = Promise.race([hasController.then(() => never), judged.then(() => Promise.race([hasController.then(() => never), redundant]))]);
    unanswered.catch(() => {});
    connected = controlled.catch(async (error: unknown) => {
      if (!(await bypassed())) throw error;
    });
  }
  // An update staged before this page loaded (prompt policy) is announced again to this page.
  connected
    .then(() => hello())
    .then((reply) => {
      if (reply.pending) handle({ name: 'update-ready', ...reply.pending });
      if (reply.nextCheckInAt !== null) checkInTimer.schedule(reply.nextCheckInAt);
    })
    .catch(() => {});
  // Whoever does not await `controlled` should not see an unhandled rejection for it.
  controlled.catch(() => {});

  return {
    on: (name, handler) => emitter.on(name, handler),
    checkNow: () => send<CheckNowReply>({ type: 'updraft:check-now' }),
    applyUpdate: async () => {
      const refuse = (release: string) =>
        new UpdraftError('withdrawn', `the update to ${release} was withdrawn by the server (the rollout was paused or rolled back); nothing to apply`, { release });
      if (withdrawn !== null) throw refuse(withdrawn);
      // Before the release is staged the worker answers only once it is active, which can take
      // as long as the download: no time limit. A worker stopped meanwhile (a long download outlives
      // its event) never answers, but the next one finishes the plan and says `activated`: either
      // ends the wait. A withdrawal ends it too, without a reload: there is nothing new to load.
      const offs: (() => void)[] = [];
      const activated = new Promise<null>((resolve) => offs.push(emitter.on('activated', () => resolve(null))));
      const dropped = new Promise<never>((_, reject) => offs.push(emitter.on('withdrawn', (e) => reject(refuse(e.release)))));
      let before: HelloReply | null = null;
      let answer: { release?: unknown } | null;
      try {
        before = await Promise.race([hello().catch(() => null), dropped]);
        answer = await Promise.race([send<{ release?: unknown } | null>({ type: 'updraft:apply' }, null), activated, dropped]);
      } finally {
        for (const off of offs) off();
      }
      // The worker switched nothing (nothing staged or planned), and this page runs its active
      // release: a reload would load the same release and lose the page's state for nothing.
      if (answer !== null && before !== null && before.active !== null && answer.release === before.active && before.release === before.active) return;
      reload();
    },
    release: hello,
    get pending() {
      return pending;
    },
    ready: async () => {
      await connected;
      if (await bypassed()) return BYPASSED_READY;
      return send<ReadyReply>({ type: 'updraft:ready' });
    },
    controlled,
    workbox: wb,
  };
}

/**
 * The page's service worker container, or why there is none. Not only `'serviceWorker' in
 * navigator`: an insecure origin (plain http, not localhost) has no property at all, and a
 * sandboxed iframe without `allow-same-origin` has it, but reading it throws a `SecurityError`
 * (Chromium, Firefox); SSR has no `navigator`.
 */
function serviceWorkerContainer(): { container: ServiceWorkerContainer; why: null } | { container: null; why: string } {
  if (typeof navigator === 'undefined') return { container: null, why: 'no navigator' };
  if (!('serviceWorker' in navigator)) {
    return { container: null, why: typeof isSecureContext === 'boolean' && !isSecureContext ? 'not a secure context' : 'no navigator.serviceWorker' };
  }
  try {
    const container = navigator.serviceWorker;
    return container ? { container, why: null } : { container: null, why: 'no navigator.serviceWorker' };
  } catch (error) {
    return { container: null, why: error instanceof Error ? error.message : String(error) };
  }
}
