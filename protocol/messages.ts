/**
 * Messages between pages and the service worker. Pages send requests with workbox-window's
 * `messageSW()` (a MessageChannel; the SW answers on `event.ports[0]` with `SwReply`). The SW
 * broadcasts `SwEventMessage` to every window client with `postMessage`.
 */
import type { ErrorCode } from './errors.js';
import type { ActivationPolicy } from './plan.js';

export type PageRequest =
  | { type: 'updraft:check-now' }
  /** Activate the staged release now (prompt policy). */
  | { type: 'updraft:apply' }
  /** Run due tasks now (pages nudge the SW when `wake-at` comes, where Background Sync is missing). */
  | { type: 'updraft:wake' }
  /** Which release serves the asking page, and what is active and staged. */
  | { type: 'updraft:hello' }
  /**
   * The asking page booted (since 0.1, additive). Confirms the release the SW served the page (its
   * pin), never one the page names: see `ReadyReply`.
   */
  | { type: 'updraft:ready' }
  | { type: 'updraft:state' };

export type SwReply<T = unknown> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export interface HelloReply {
  /** The release this page is pinned to (the one that served its document), or null if unknown. */
  release: string | null;
  version: string | null;
  active: string | null;
  staged: string | null;
  /**
   * The staged release waiting for activation, with its version and policy. A page that loads
   * while one waits (prompt policy) learns of it here: the `update-ready` broadcast went out before
   * the page existed. Null while a plan to another release supersedes the staged one.
   */
  pending: { release: string; version: string; policy: ActivationPolicy } | null;
  /** When the next check-in is due (local epoch ms), so a page that loads later can nudge then. */
  nextCheckInAt: number | null;
}

export interface ReadyReply {
  /** The release that served the asking page (its pin), or null if the SW does not know it. */
  release: string | null;
  /**
   * - `confirmed`: this page's release awaited confirmation and now has it; it stays active.
   * - `none-pending`: nothing awaits confirmation from this page's release (confirmed before, never
   *   watched, or already rolled back).
   * - `other-release`: another release awaits confirmation; a page on this one does not count.
   * - `network`: this page's release awaits confirmation, but the network answered this page's
   *   document (not the worker, from the release): it ran other bytes, so it does not count
   *   (additive).
   */
  result: 'confirmed' | 'none-pending' | 'other-release' | 'network';
}

export type CheckNowReply =
  | { result: 'current' }
  | { result: 'update'; release: string }
  | { result: 'retry'; retryAt: number }
  | { result: 'error'; code: ErrorCode; message: string };

export type UpdraftEvent =
  | { name: 'update-available'; release: string; version: string; partsTotal: number; bytesTotal: number }
  | { name: 'progress'; release: string; partsDone: number; partsTotal: number; bytesDone: number; bytesTotal: number }
  /** The release is staged (installed) and waits for activation per policy. */
  | { name: 'update-ready'; release: string; version: string; policy: ActivationPolicy }
  | { name: 'activated'; release: string; version: string; policy: ActivationPolicy }
  | { name: 'failed'; release: string | null; code: ErrorCode; message: string }
  /**
   * No page confirmed `release` in time (code `boot_failed`): `active` serves new navigations again,
   * and `release` is not installed again until the server offers another one (since 0.1, additive).
   */
  | { name: 'rolled-back'; release: string; version: string; active: string; code: 'boot_failed' }
  /**
   * The server withdrew `release` (the channel was paused or rolled back, since 0.5): the worker
   * dropped its plan to it, or the staged copy, and keeps `active`. An `update-ready` or
   * `update-available` for it no longer holds; `applyUpdate()` rejects with code `withdrawn`.
   */
  | { name: 'withdrawn'; release: string; active: string | null }
  /** Local epoch ms at which the SW next has due work; pages without Background Sync nudge it then. */
  | { name: 'wake-at'; at: number }
  /**
   * Local epoch ms of the next check-in the server asked for. Nothing wakes a worker at a time of
   * its choosing (periodic sync is for installed apps only), so open pages nudge it then.
   */
  | { name: 'check-in-at'; at: number };

export interface SwEventMessage { type: 'updraft:event'; event: UpdraftEvent }

/** Under the SW scope: plain-text state, and the same as JSON for tests (`updraft/playwright`). */
export const DEBUG_STATE_PATH = '__updraft/state';
export const DEBUG_STATE_JSON_PATH = '__updraft/state.json';

/** What the Vite plugin bakes into the generated `sw.js` (as `self.__UPDRAFT_CONFIG__`). */
export interface SwConfig {
  /** Base URL of the update server, absolute or relative to the SW scope. @default "/" */
  server: string;
  app: string;
  channel: string;
  /** URL of the release manifest emitted beside the build, relative to the SW scope. @default "updraft-release.json" */
  manifest: string;
  /** Tasks run at once. @default 3 */
  concurrency: number;
  /**
   * How long a newly activated release has, from the first navigation it serves, until a page it
   * served calls `ready()`; then the SW rolls back to the previous release. `0` turns the check off.
   * Since 0.1, additive: a config without it gets the default. @default 30000
   */
  bootTimeoutMs: number;
  /**
   * Ed25519 public keys (`ed25519:<base64url>`, from `updraft keys generate`) the SW trusts to
   * sign plans. With any, a plan needs a valid signature by one of them or is refused (`signature`).
   * Several during a key rotation. Since 0.2, additive. @default [] (plans are not checked)
   */
  publicKeys?: string[];
}

/** Debug state the SW reports at `DEBUG_STATE_JSON_PATH` and on `updraft:state`. */
export interface SwDebugState {
  client: string | null;
  mode: 'normal' | 'degraded';
  why: string | null;
  active: string | null;
  staged: string | null;
  nextCheckInAt: number | null;
  holdUntil: Record<string, number>;
  plan: null | {
    planId: string; from: string | null; to: string; activation: ActivationPolicy;
    /** The page consented (`applyUpdate()`, prompt policy): it activates once staged. */
    applied: boolean;
    tasks: { id: string; kind: string; state: string; attempts: number; nextAttemptAt: number; lastError: string | null; sha256?: string }[];
  };
  /** `network`: the network answered the client's document, so its `ready()` confirms nothing. */
  pins: { clientId: string; release: string; network?: true }[];
  /** The activated release awaiting a page's `ready()`, and its deadline (null until it served a navigation). */
  boot: { release: string; previous: string; deadline: number | null } | null;
  /** Releases rolled back for failing to boot: plans to them are ignored. */
  bad: string[];
  releases: string[];
  parts: number;
  log: string[];
}
