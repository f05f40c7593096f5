import { Hono, type Context } from 'hono';
import { basePath } from 'hono/route';
import { lookup } from 'mrmime';
import { MANIFEST_FILE, SW_FILE, UpdraftError, resolvePagePath, servedType, type Asset, type ChannelState, type ReleaseManifest } from '../protocol/index.js';
import { IMMUTABLE, blobResponse } from './blob-response.js';
import type { ResolvedOptions } from './options.js';
import { fallbackRelease } from './planner.js';
import type { StoredRelease } from './store.js';

const NO_CACHE = 'no-cache';

/** Path → asset indexes of the last few served releases, so a 10k-asset release is not re-indexed per request. */
class AssetIndex {
  #byRelease = new Map<string, Map<string, Asset>>();
  get(m: ReleaseManifest): Map<string, Asset> {
    let index = this.#byRelease.get(m.id);
    if (!index) {
      index = new Map(m.assets.map((a) => [a.path, a]));
      if (this.#byRelease.size >= 4) this.#byRelease.delete(this.#byRelease.keys().next().value!);
      this.#byRelease.set(m.id, index);
    }
    return index;
  }
}

function contentType(asset: Asset): string {
  return servedType(asset.type || lookup(asset.path) || 'application/octet-stream');
}

function cacheControlFor(path: string, isEntryOrSw: boolean): string {
  if (isEntryOrSw || path.endsWith('.html')) return NO_CACHE;
  // Hashed build output lives under assets/ (Vite's default): its URL changes when its bytes do.
  return path.startsWith('assets/') ? IMMUTABLE : NO_CACHE;
}

/** What the static routes serve: the release's files and manifest, and the worker at `/sw.js`. */
interface Served {
  manifest: ReleaseManifest;
  sw: Asset | undefined;
}

/**
 * The release first visits get: the channel's fallback (`previous`, or a newer minimum) while a
 * partial rollout is under way or the channel is paused, so new pages start on the safe release
 * (a paused target is the one in doubt: a first visit installing it would stay on it, as clients
 * on the target stay while paused). A channel rolled back has no fallback but a minimum below it
 * (the release rolled back from is offered to nobody): first visits get its release. Its worker,
 * except in the case `servedWorker` bridges.
 */
async function servedRelease(o: ResolvedOptions, serve: { app: string | null; channel: string }): Promise<Served> {
  let app = serve.app;
  if (!app) {
    const apps = await o.store.listApps();
    if (apps.length > 1) throw new UpdraftError('unknown_app', `several apps published (${apps.join(', ')}): name the one to serve at / (\`updraft serve --app\`, or serve.app)`);
    app = apps[0] ?? null;
  }
  const channel = app ? await o.store.getChannel(app, serve.channel) : null;
  if (!app || !channel) {
    throw new UpdraftError('unknown_channel', `nothing published on channel ${serve.channel}${serve.app ? ` of app ${serve.app}` : ''}: run \`updraft publish <dist> --channel ${serve.channel}\``);
  }
  // Each release read once: the one served is among those the fallback was chosen from.
  const known = new Map<string, StoredRelease | null>();
  const read = async (r: string) => {
    if (!known.has(r)) known.set(r, await o.store.getRelease(r));
    return known.get(r) ?? null;
  };
  let id = channel.release;
  if (channel.paused || channel.percent < 100) {
    for (const r of [channel.release, channel.previous, channel.minimum]) if (r) await read(r);
    id = fallbackRelease(channel, known) ?? channel.release;
  }
  const release = await read(id);
  if (!release) throw new UpdraftError('unknown_release', `channel ${serve.channel} points to missing release ${id}`);
  const target = id === channel.release ? release : known.get(channel.release) ?? null;
  return { manifest: release.manifest, sw: servedWorker(channel, release, target) };
}

/**
 * The worker `/sw.js` serves: the served release's, except while a rollout (not paused, above 0 %)
 * offers a target whose id covers `sw.js` over a fallback whose id does not. The fallback was then
 * built before protocol 0.6, and its worker, which does not say `caps.swIds`, is never offered the
 * target (`chooseTarget`); the browser replaces a worker only with what `/sw.js` answers, and that
 * request says nothing of the client, so serving the fallback's would keep every old worker from
 * the target until the rollout reached 100 %. The target's worker is served instead: on its next
 * navigation (or update check) every browser installs it, keeping its active release (a new
 * worker over existing state precaches nothing), checks in with `swIds`, and is offered the
 * target inside the rollout, `current` outside it. A first visit installs that worker over the
 * fallback's files, whose id it accepts. The app's files still follow the percentage; the worker,
 * once in this transition, does not. A pause or 0 % serves the fallback's worker again.
 */
export function servedWorker(channel: ChannelState, release: StoredRelease, target: StoredRelease | null): Asset | undefined {
  const bridge = target !== null && target !== release && !channel.paused && channel.percent > 0 && target.idCoversSw && !release.idCoversSw;
  return (bridge ? target : release).manifest.sw;
}

export function staticRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  const serve = o.serve;
  if (!serve) return app;
  const index = new AssetIndex();

  app.get('/*', async (c: Context) => {
    const prefix = basePath(c).replace(/\/$/, '');
    let rel: string;
    try {
      rel = decodeURIComponent(c.req.path.slice(prefix.length)).replace(/^\/+/, '');
    } catch {
      throw new UpdraftError('invalid_path', 'malformed percent-encoding in path');
    }
    // No asset path holds these (protocol's AssetPath): answer traversal attempts with a clear 400, not the SPA fallback.
    if (/[\\\x00-\x1f\x7f]/.test(rel) || rel.split('/').some((s) => s === '.' || s === '..')) {
      throw new UpdraftError('invalid_path', 'paths may not hold "." or ".." segments, backslashes or control characters');
    }
    if (rel === 'v1' || rel.startsWith('v1/')) throw new UpdraftError('not_found', `no route for GET ${c.req.path}`);
    const { manifest, sw } = await servedRelease(o, serve);
    const headers = { 'X-Content-Type-Options': 'nosniff' };

    if (rel === MANIFEST_FILE) {
      return c.json(manifest, 200, { 'Cache-Control': NO_CACHE, ...headers });
    }
    if (rel === SW_FILE && sw) {
      return blobResponse(c, o.blobs, sw.sha256, { contentType: contentType(sw), cacheControl: NO_CACHE, headers });
    }
    const assets = index.get(manifest);
    // The worker opens the same page for the same URL (sw/router.ts): directories their index.html,
    // client-side routes (no extension) the entry document; missing files stay 404.
    const page = resolvePagePath(rel, manifest.entry, (p) => assets.has(p));
    const asset = page === null ? undefined : assets.get(page);
    if (!asset) throw new UpdraftError('not_found', `${rel} is not in release ${manifest.id}`);
    return blobResponse(c, o.blobs, asset.sha256, {
      contentType: contentType(asset),
      cacheControl: cacheControlFor(asset.path, asset.path === manifest.entry),
      headers,
    });
  });
  return app;
}
