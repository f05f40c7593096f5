/**
 * Pure routing: which requests the worker answers, and which asset of which release answers them.
 * `main.ts`/`runtime.ts` do the IO (cache lookups, pinning, network fallback).
 */
import { DEBUG_STATE_JSON_PATH, DEBUG_STATE_PATH, resolvePagePath, type Asset, type ReleaseManifest } from '../protocol/index.js';

export interface RouteContext {
  /** Registration scope, absolute, ending in "/". */
  scope: string;
  /** Update server base URL, absolute, ending in "/". */
  server: string;
  /** Absolute URL of the release manifest. */
  manifest: string;
  /** Absolute URL of the worker script. */
  script: string;
}

export interface RequestInfo {
  url: string;
  method: string;
  mode: string;
  /** The request's cache mode; absent counts as `default`. */
  cache?: string;
}

export type Route =
  /** Not ours: let the browser handle it (no `respondWith`). */
  | { kind: 'pass' }
  | { kind: 'debug'; format: 'text' | 'json' }
  /** A document request: the active release answers, and the new client is pinned to it. */
  | { kind: 'navigate'; path: string }
  /** A subresource: the release pinned for the requesting client answers. */
  | { kind: 'asset'; path: string };

const INTERNAL = '__updraft/';

export function route(req: RequestInfo, ctx: RouteContext): Route {
  if (req.method !== 'GET') return { kind: 'pass' };
  // Chromium's DevTools reopens a page's sources with `only-if-cached` in `no-cors` mode, a pair
  // fetch() rejects with a TypeError (Fetch, the Request constructor): handed to the network
  // fallback it would fail. Left alone, the browser answers it from its HTTP cache.
  if (req.cache === 'only-if-cached' && req.mode !== 'same-origin') return { kind: 'pass' };
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return { kind: 'pass' };
  }
  const scope = new URL(ctx.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return { kind: 'pass' };
  const bare = url.origin + url.pathname;
  // `v1` itself too: the server answers it 404 (no route, not the SPA entry), so must the worker.
  if (bare === ctx.server + 'v1' || bare.startsWith(ctx.server + 'v1/')) return { kind: 'pass' };
  if (bare === ctx.script || bare === ctx.manifest) return { kind: 'pass' };
  let path: string;
  try {
    path = decodeURIComponent(url.pathname.slice(scope.pathname.length));
  } catch {
    return { kind: 'pass' };
  }
  if (path === DEBUG_STATE_PATH) return { kind: 'debug', format: 'text' };
  if (path === DEBUG_STATE_JSON_PATH) return { kind: 'debug', format: 'json' };
  if (path.startsWith(INTERNAL)) return { kind: 'pass' };
  if (req.mode === 'navigate') return { kind: 'navigate', path };
  return { kind: 'asset', path };
}

/**
 * The asset answering `path` in `release`: for a subresource an exact match; for a navigation the
 * page the server would answer the same URL with (`resolvePagePath`). Null → network.
 */
export function resolveAsset(release: ReleaseManifest, path: string, navigate: boolean): Asset | null {
  const byPath = pathIndex(release);
  if (!navigate) return (path === '' ? undefined : byPath.get(path)) ?? null;
  const page = resolvePagePath(path, release.entry, (p) => byPath.has(p));
  return (page === null ? undefined : byPath.get(page)) ?? null;
}

/** Manifests are immutable: index each once, not a scan of every asset per request. */
const indexes = new WeakMap<ReleaseManifest, Map<string, Asset>>();

function pathIndex(release: ReleaseManifest): Map<string, Asset> {
  let index = indexes.get(release);
  if (!index) {
    index = new Map();
    // First wins, as `find` did (a consistent manifest has unique paths anyway).
    for (const a of release.assets) if (!index.has(a.path)) index.set(a.path, a);
    indexes.set(release, index);
  }
  return index;
}
