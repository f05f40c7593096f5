/**
 * Release-bound readiness, the pure decisions (CodePush's `notifyAppReady`, Capgo's
 * `notifyAppReady`): a release activated over another must be confirmed by a page it served
 * (`updraft:ready`, checked against the page's pin) within `bootTimeoutMs` of the first
 * navigation it served; else the worker rolls back (`boot-guard.ts` does the IO).
 */
import type { ReadyReply } from '../protocol/index.js';
import type { BadRelease, BootWatch } from './store.js';

/** Bad releases remembered; the oldest is forgotten first (the server has long moved on by then). */
export const BAD_RELEASES_MAX = 16;

/**
 * Whether an activation gets a watch. Not before any page of this app ever called `ready()`: an
 * app that never adopted it would otherwise see every update rolled back.
 */
export function shouldWatch(bootTimeoutMs: number, readySeen: boolean): boolean {
  return bootTimeoutMs > 0 && readySeen;
}

export type BootPhase =
  /** No watch, or it does not concern the active release. */
  | 'none'
  /** Watched, but the release has not served a navigation yet: no clock. */
  | 'unstarted'
  | 'running'
  /** The deadline passed without a confirmation: roll back. */
  | 'expired';

export function bootPhase(watch: BootWatch | null | undefined, active: string | null, now: number): BootPhase {
  if (!watch || watch.release !== active) return 'none';
  if (watch.deadline === null) return 'unstarted';
  return now >= watch.deadline ? 'expired' : 'running';
}

/** A navigation served by `served` starts the watched release's clock, once. */
export function startClock(watch: BootWatch | null | undefined, served: string, now: number, bootTimeoutMs: number): BootWatch | null {
  if (!watch || watch.release !== served || watch.deadline !== null) return null;
  return { ...watch, deadline: now + bootTimeoutMs };
}

/**
 * What a page's `ready()` means, judged by `pinned`: the release that served the page, never what
 * the page says. A page still on the old release does not confirm the new one; nor does a page
 * pinned to it whose document the network answered (`fromNetwork`): it ran other bytes.
 */
export function judgeReady(watch: BootWatch | null | undefined, pinned: string | null, fromNetwork = false): ReadyReply['result'] {
  if (!watch) return 'none-pending';
  if (pinned === null || pinned !== watch.release) return 'other-release';
  return fromNetwork ? 'network' : 'confirmed';
}

export function isBad(bad: readonly BadRelease[] | undefined, release: string): boolean {
  return (bad ?? []).some((b) => b.release === release);
}

/** Adds `release` (moved to the end if already there), keeping the newest `BAD_RELEASES_MAX`. */
export function addBad(bad: readonly BadRelease[] | undefined, release: string, at: number): BadRelease[] {
  const next = (bad ?? []).filter((b) => b.release !== release);
  next.push({ release, at });
  return next.slice(-BAD_RELEASES_MAX);
}
