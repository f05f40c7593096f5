import type { BlobStore } from './blob-store.js';
import type { Store } from './store.js';

export interface UpdateServerOptions {
  store: Store;
  blobs: BlobStore;
  /** Bearer token for `/v1/admin/*`. Without one, admin routes answer 401 `unauthorized`. */
  token?: string;
  /** CDN base URLs mirroring `v1/blobs/`, listed before the origin in fetch sources. @default [] */
  cdn?: string[];
  /**
   * This server's public base URL (e.g. `https://example.com/updraft/`), for fetch sources.
   * @default derived from each check-in's request URL, which is wrong behind a rewriting proxy
   */
  publicUrl?: string;
  /** Seconds between check-ins. @default 3600 */
  checkInInterval?: number;
  /** Downloads of a plan start at a per-client offset in [0, spreadMs). @default 0 */
  spreadMs?: number;
  /** Plan lifetime. @default 86_400_000 (24 h) */
  planTtlMs?: number;
  /** Serve the app itself at `/` from a channel's release; `false` for an update API only. @default { channel: 'stable' } */
  serve?: { app?: string; channel?: string } | false;
  /** Max body of public JSON routes (check-in, reports), bytes. @default 1_048_576 */
  bodyLimit?: number;
  /** Clock, epoch ms; tests inject a fixed one. @default Date.now */
  now?: () => number;
}

export interface ResolvedOptions {
  store: Store;
  blobs: BlobStore;
  token: string | undefined;
  cdn: string[];
  publicUrl: string | null;
  checkInInterval: number;
  spreadMs: number;
  planTtlMs: number;
  serve: { app: string | null; channel: string } | false;
  bodyLimit: number;
  now: () => number;
}

const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

export function resolveOptions(o: UpdateServerOptions): ResolvedOptions {
  return {
    store: o.store,
    blobs: o.blobs,
    token: o.token || undefined,
    cdn: (o.cdn ?? []).map(withSlash),
    publicUrl: o.publicUrl ? withSlash(o.publicUrl) : null,
    checkInInterval: o.checkInInterval ?? 3600,
    spreadMs: o.spreadMs ?? 0,
    planTtlMs: o.planTtlMs ?? 86_400_000,
    serve: o.serve === false ? false : { app: o.serve?.app ?? null, channel: o.serve?.channel ?? 'stable' },
    bodyLimit: o.bodyLimit ?? 1_048_576,
    now: o.now ?? Date.now,
  };
}
