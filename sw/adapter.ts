/**
 * Everything ambient the worker touches, behind one interface (Angular's `Adapter`): only
 * `main.ts` builds the real one from `self`; tests build `testing.ts`'s in-memory one with a fake
 * clock and a scripted fetch, and drive the very same runtime.
 */
import type { SwStore } from './store.js';

/** The content-addressed parts cache, `updraft-parts`. Keys are absolute URLs. */
export interface PartsCache {
  match(key: string): Promise<Response | undefined>;
  /** Throws a `DOMException` named `QuotaExceededError` when the browser refuses to store. */
  put(key: string, response: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
  keys(): Promise<string[]>;
}

export interface WindowClientInfo {
  id: string;
  url: string;
}

export interface PrecacheEntry {
  url: string;
  revision: string;
  /** The manifest's hash and size: the bytes are checked against them before they are cached. */
  sha256: string;
  size: number;
}

/** Reads back what `precache` stored, by URL (without the revision parameter). */
export type PrecacheLookup = (url: string) => Promise<Response | undefined>;

export interface Adapter {
  /** The registration scope, absolute, ending in "/". */
  readonly scope: string;
  now(): number;
  random(): number;
  /** A fresh random id of 22 url-safe characters (crypto-grade in the browser). */
  randomId(): string;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
  parts(): Promise<PartsCache>;
  store(): Promise<SwStore>;
  /** Window clients, controlled or not. */
  windows(): Promise<WindowClientInfo[]>;
  /** Ids of every client, windows and workers: whose pins garbage collection keeps. */
  clientIds(): Promise<string[]>;
  postMessage(clientId: string, message: unknown): Promise<void>;
  claim(): Promise<void>;
  skipWaiting(): Promise<void>;
  /** Registers a one-off Background Sync; false where SyncManager is missing or refuses. */
  registerSync(tag: string): Promise<boolean>;
  /** Registers a periodic sync; false where it is missing or the permission is not granted. */
  registerPeriodicSync(tag: string, minInterval: number): Promise<boolean>;
  /** Whether `registration.sync` exists. */
  hasSync(): boolean;
  estimate(): Promise<{ quota?: number; usage?: number }>;
  /**
   * Precaches with workbox-precaching during `install`, each request under the part fetches'
   * deadline and its bytes checked before they are cached (`precache-deadline.ts`); `event` is the
   * install event.
   */
  precache(entries: PrecacheEntry[], event?: unknown): Promise<PrecacheLookup>;
  /** Deletes the precache cache once its bytes live in the parts cache. */
  dropPrecache(): Promise<void>;
}

export const PARTS_CACHE = 'updraft-parts';
export const PRECACHE_CACHE = 'updraft-precache';

/** `<scope>__updraft/parts/<sha256>`: the parts cache key of a hash. */
export function partKey(scope: string, sha256: string): string {
  return `${scope}__updraft/parts/${sha256}`;
}

export function isQuotaError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'QuotaExceededError';
}
