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
   * the page existed.
   */
  pending: { release: string; version: string; policy: ActivationPolicy } | null;
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
  /** Local epoch ms at which the SW next has due work; pages without Background Sync nudge it then. */
  | { name: 'wake-at'; at: number };

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
    tasks: { id: string; kind: string; state: string; attempts: number; nextAttemptAt: number; lastError: string | null; sha256?: string }[];
  };
  pins: { clientId: string; release: string }[];
  releases: string[];
  parts: number;
  log: string[];
}
