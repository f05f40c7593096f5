/** What every part of the runtime shares: the adapter, the opened store and cache, config, log. */
import type { ReleaseManifest, SwConfig } from '../protocol/index.js';
import type { Adapter, PartsCache } from './adapter.js';
import type { Urls } from './config.js';
import type { RunningTasks } from './running-tasks.js';
import type { Log } from './debug.js';
import type { BootWatch, SwStore } from './store.js';

export interface SwContext {
  adapter: Adapter;
  store: SwStore;
  parts: PartsCache;
  config: SwConfig;
  urls: Urls;
  log: Log;
  clientId: string;
  /** Window client id → release id; mirrors the `pins` store for synchronous-ish routing. */
  pins: Map<string, string>;
  /** Client ids whose pin says the network answered them (`Pin.network`): their `ready()` confirms nothing. */
  fromNetwork: Set<string>;
  /** Release manifests read so far (they are immutable). */
  releases: Map<string, ReleaseManifest>;
  /** Mirrors `Meta.boot`, so fetches can check the deadline without a read. */
  boot: BootWatch | null;
  /** The task runner's tasks in flight: a withdrawn or superseded plan's requests are aborted through it. */
  running: RunningTasks;
  /**
   * Plans accepted by this worker, counted right before each is stored: a collection that sees
   * the count move starts over (gc.ts).
   */
  plansAccepted: number;
}

export async function loadRelease(ctx: SwContext, id: string): Promise<ReleaseManifest | undefined> {
  const cached = ctx.releases.get(id);
  if (cached) return cached;
  const release = await ctx.store.getRelease(id);
  if (release) ctx.releases.set(id, release);
  return release;
}
