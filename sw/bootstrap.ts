/**
 * First install (`install` event): the release the page was built from, read from the manifest
 * the plugin emitted beside the build, precached with workbox-precaching (each request under a
 * deadline, its bytes checked against the manifest: `precache-deadline.ts`),
 * then copied into the parts cache by hash and recorded as the active release if none is.
 */
import * as v from 'valibot';
import { checkManifestConsistency, ReleaseManifest, sha256Hex } from '../protocol/index.js';
import { partKey, type PrecacheEntry } from './adapter.js';
import type { SwContext } from './context.js';
import { partResponse } from './fetch-part.js';
import { PLAN_DOC_MAX_BYTES } from './plan-doc.js';
import { readCapped } from './read-capped.js';
import { timedRequest } from './timed-fetch.js';

export interface BootstrapResult {
  release: string;
  /** False when another release was already active (the manifest's is kept as a known release). */
  activated: boolean;
  copied: number;
}

export async function bootstrap(ctx: SwContext, installEvent?: unknown): Promise<BootstrapResult | null> {
  const { adapter, store, parts, urls, log } = ctx;
  const ptr = await store.pointers();
  if (ptr.active !== null && (await store.getRelease(ptr.active))) {
    // A new worker script over existing state (an Updraft upgrade): the active release is already on disk.
    log.info(`install: release ${ptr.active} already active, nothing to precache`);
    return null;
  }
  // Under the request watchdog: a host that sends the headers and stalls would hold the install
  // event until the browser gives up on it. (The precache's own fetches: `precache-deadline.ts`.)
  const text = await timedRequest(ctx, urls.manifest, { cache: 'no-store' }, async (res, progress) => {
    if (!res.ok) throw new Error(`manifest ${urls.manifest}: HTTP ${res.status}`);
    return new TextDecoder().decode(await readCapped(res, PLAN_DOC_MAX_BYTES, { onChunk: progress }));
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`manifest ${urls.manifest}: not JSON`);
  }
  const parsed = v.safeParse(ReleaseManifest, json);
  if (!parsed.success) throw new Error(`manifest ${urls.manifest}: ${parsed.issues[0]?.message ?? 'invalid'}`);
  const manifest = parsed.output;
  const problem = await checkManifestConsistency(manifest);
  if (problem) throw new Error(`manifest ${urls.manifest}: ${problem}`);

  const missing = [];
  for (const a of manifest.assets) if (!(await parts.match(partKey(urls.scope, a.sha256)))) missing.push(a);
  const entries: PrecacheEntry[] = missing.map((a) => ({
    url: new URL(a.path, urls.scope).href,
    revision: a.sha256,
    sha256: a.sha256,
    size: a.size,
  }));
  const lookup = await adapter.precache(entries, installEvent);
  let copied = 0;
  for (const a of missing) {
    const url = new URL(a.path, urls.scope).href;
    const cached = await lookup(url);
    if (!cached) throw new Error(`precache lost ${a.path}`);
    const bytes = await cached.arrayBuffer();
    // Checked before caching (precache-deadline.ts); hashing again costs little and also covers a
    // precache entry left by an earlier attempt, which Workbox does not fetch again.
    if ((await sha256Hex(bytes)) !== a.sha256) throw new Error(`precache of ${a.path} does not match its sha256`);
    await parts.put(partKey(urls.scope, a.sha256), partResponse(bytes, a.sha256, a.type));
    copied++;
  }
  const after = await store.installInitial(manifest);
  ctx.releases.set(manifest.id, manifest);
  const activated = after.active === manifest.id;
  log.info(`install: release ${manifest.id} (${manifest.version}), ${copied} parts copied${activated ? ', active' : ''}`);
  return { release: manifest.id, activated, copied };
}
