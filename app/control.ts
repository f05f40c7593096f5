/**
 * Whether a service worker controls this page or will, judged once `register()` resolved, and
 * what the page client answers for a page loaded past its worker (a hard reload).
 */
import { UpdraftError } from '../protocol/errors.js';
import type { HelloReply, ReadyReply } from '../protocol/messages.js';

export type Control =
  /** A worker controls this page. */
  | 'controlled'
  /**
   * A worker is on its way (installing, waiting or activating): its activation claims this page,
   * since Updraft's worker calls `clients.claim()` when it activates.
   */
  | 'coming'
  /** The page is outside the registration's scope: no worker ever controls it. */
  | 'outside-scope'
  /**
   * The registration's worker is active and nothing else is on its way, yet it does not control
   * this page in its scope: the page was loaded bypassing it (a hard reload, DevTools' "Disable
   * cache" or "Bypass for network"). Such a navigation gets no controller (Service Workers,
   * `ServiceWorkerContainer.controller`: "returns null if the request is a force refresh
   * (shift+refresh)"), and the worker claims clients only when it activates: only the next
   * ordinary navigation is controlled (e2e/hard-reload.spec.ts).
   */
  | 'bypassed';

export interface ControlFacts {
  /** `navigator.serviceWorker.controller !== null` */
  controlled: boolean;
  /** This page's URL. */
  href: string;
  /** The registration's scope URL. */
  scope: string;
  /** The state of the registration's active worker, or null without one. */
  active: ServiceWorkerState | null;
  installing: boolean;
  waiting: boolean;
}

export function judgeControl(f: ControlFacts): Control {
  if (f.controlled) return 'controlled';
  // An app built with base `/app/` opened at `/app`.
  if (!f.href.startsWith(f.scope)) return 'outside-scope';
  if (f.installing || f.waiting || f.active !== 'activated') return 'coming';
  return 'bypassed';
}

/** What `controlled` rejects with on a page loaded past its worker. */
export function bypassedError(): UpdraftError {
  return new UpdraftError(
    'uncontrolled',
    'this page was loaded bypassing the service worker (a hard reload: Shift+Reload, or DevTools with the cache disabled): it runs from the network, not from a release, and the next ordinary navigation is controlled',
  );
}

/**
 * The worker's `hello`, told from a page it does not control: it answers with the active release
 * for a page it never served (no pin), but the network served this one, whatever it serves now.
 */
export function bypassedHello(hello: HelloReply): HelloReply {
  return { ...hello, release: null, version: null };
}

/**
 * `ready()` on a page loaded past its worker: the network answered its document, so it confirms
 * no release, whichever one awaits a confirmation (the worker judges a page it claimed after such
 * a load the same way). Nothing is sent: the worker would find no pin for the page and answer as
 * if it ran an older release.
 */
export const BYPASSED_READY: ReadyReply = { release: null, result: 'network' };
