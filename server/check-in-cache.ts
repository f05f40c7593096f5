import type { ChannelState } from '../protocol/index.js';
import { renderTemplate, type RenderedTemplate } from './answer-json.js';
import type { DeltaInfo, DeltaStore } from './delta-store.js';
import { predecessors } from './delta-match.js';
import { planTemplate, type KnownRelease } from './planner.js';
import type { Store } from './store.js';

export interface CheckInCacheOptions {
  store: Store;
  /**
   * A channel entry older than this is re-read from the store. It bounds how long a change made
   * behind this process's back (another server process, a script writing the database) goes
   * unseen by a store without a shared `changeCounter`. @default 1000
   */
  maxAgeMs?: number;
  /** Templates (distinct from/to/origin answers) kept per channel before the entry starts over. @default 256 */
  maxTemplates?: number;
  /**
   * Bytes of rendered templates kept per channel before the entry starts over (their JSON text:
   * the manifest or its patch, and every inline delta). The count alone does not bound them: a
   * template holds its inline deltas, and `origin` comes from the request's Host unless
   * `publicUrl` is set, so one `from → to` can be rendered once per Host a client sends.
   * @default 67_108_864 (64 MiB)
   */
  maxTemplateBytes?: number;
  /** Where stored deltas are looked up for each template; null offers none. @default null */
  deltas?: DeltaStore | null;
  /** Deltas up to this many bytes travel inside the plan. @default 0 */
  inlineDeltaBytes?: number;
  /** Real clock for ages, epoch ms. @default Date.now */
  clock?: () => number;
}

/** What one channel answers, read once from the store and shared by every check-in on it. */
export interface ChannelEntry {
  channel: ChannelState | null;
  /** Releases read so far (null: the store does not know the id), target, previous and minimum first. */
  releases: Map<string, KnownRelease | null>;
  /** A Promise while the template loads: concurrent check-ins for one key share the load. */
  templates: Map<string, RenderedTemplate | null | Promise<RenderedTemplate | null>>;
  /** The text held by `templates`, about (`renderedBytes`): bounded by `maxTemplateBytes`. */
  templateBytes: number;
  /**
   * The last template found, by its key's parts: during a rollout nearly every update check-in on
   * a channel is for one `from → to`, and comparing three short strings costs less than building
   * the key and hashing it (0.2 µs of a 2 µs update check-in).
   */
  last?: { from: string | null; to: string; origin: string; rendered: RenderedTemplate | null };
  loadedAt: number;
  /** The store's change counter when loaded (-1 without one). */
  counter: number;
  generation: number;
}

/**
 * About what a rendered template holds: its JSON text (UTF-16 strings count as a byte per char,
 * as V8 stores the ASCII the answers are). The forms made from it on first use (compact, deflated,
 * the plan document) are a small multiple of it, not counted.
 */
function renderedBytes(r: RenderedTemplate): number {
  let n = r.head.length + r.body.length + r.tail.length;
  for (const f of r.fetchHeads) n += f.length;
  for (const f of r.fetchSources) n += f.length;
  return n;
}

const templateKey = (from: string | null, to: string, origin: string) => `${from ?? ''}\n${to}\n${origin}`;

/** How many entries for channels that do not exist are kept, newest first (`#keepUnknown`). */
export const UNKNOWN_CHANNELS_KEPT = 1024;

/**
 * The expensive part of a check-in — channel and release reads, which parts a client on `from`
 * lacks, the serialised manifest — computed once per (app, channel, from, to, origin) and reused
 * (CodePush's lesson). Per-client work (bucket, slot, plan id) happens after it.
 *
 * Invalidation: `invalidate()` (the admin routes call it after a publish or a channel change),
 * `invalidateApp()` (the delta queue calls it as each delta is stored), the
 * store's optional `changeCounter()` (read on every lookup: the hook for several processes sharing
 * one database), and `maxAgeMs`, which bounds staleness for changes neither of them sees.
 */
export class CheckInCache {
  readonly #store: Store;
  readonly #maxAgeMs: number;
  readonly #maxTemplates: number;
  readonly #maxTemplateBytes: number;
  readonly #clock: () => number;
  readonly #deltas: DeltaStore | null;
  readonly #inlineDeltaBytes: number;
  readonly #entries = new Map<string, ChannelEntry | Promise<ChannelEntry>>();
  /** Keys of entries for channels that do not exist, oldest first (see `UNKNOWN_CHANNELS_KEPT`). */
  readonly #unknown = new Set<string>();
  #generation = 0;

  constructor(o: CheckInCacheOptions) {
    this.#store = o.store;
    this.#maxAgeMs = o.maxAgeMs ?? 1000;
    this.#maxTemplates = o.maxTemplates ?? 256;
    this.#maxTemplateBytes = o.maxTemplateBytes ?? 64 * 1024 * 1024;
    this.#clock = o.clock ?? Date.now;
    this.#deltas = o.deltas ?? null;
    this.#inlineDeltaBytes = o.inlineDeltaBytes ?? 0;
  }

  /** Drops every cached answer: the next check-in of each channel reads the store again. */
  invalidate(): void {
    this.#generation++;
    this.#entries.clear();
    this.#unknown.clear();
  }

  /**
   * Drops the cached answers of `app`'s channels only: what a new delta changes (delta-queue.ts
   * stores them after the publish), while other apps' templates stay. A channel read under way
   * is not kept when it ends (`channel` stores a load only if its key still holds it).
   */
  invalidateApp(app: string): void {
    const prefix = `${app}\n`;
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key);
  }

  /** Channels cached now, known or not. */
  get size(): number {
    return this.#entries.size;
  }

  /** The channel's entry; a Promise only on a miss (concurrent misses share one read). */
  channel(app: string, name: string): ChannelEntry | Promise<ChannelEntry> {
    const key = `${app}\n${name}`;
    const hit = this.#entries.get(key);
    if (hit && !(hit instanceof Promise) && this.#fresh(hit)) return hit;
    if (hit instanceof Promise) return hit;
    const load = this.#load(app, name);
    this.#entries.set(key, load);
    load.then(
      (entry) => {
        if (this.#entries.get(key) !== load) return;
        this.#entries.set(key, entry);
        if (entry.channel === null) this.#keepUnknown(key);
      },
      () => { if (this.#entries.get(key) === load) this.#entries.delete(key); },
    );
    return load;
  }

  /** The rendered template for `from → to` through `origin`, or null when the server does not know `to`. */
  template(entry: ChannelEntry, from: string | null, to: string, origin: string, cdn: readonly string[]): RenderedTemplate | null | Promise<RenderedTemplate | null> {
    const last = entry.last;
    if (last !== undefined && last.to === to && last.from === from && last.origin === origin) return last.rendered;
    const key = templateKey(from, to, origin);
    const hit = entry.templates.get(key);
    if (hit !== undefined) {
      if (!(hit instanceof Promise)) entry.last = { from, to, origin, rendered: hit };
      return hit;
    }
    // Without this, every check-in arriving while an entry was being refilled (each second, under
    // load: a hundred at once) built the same template and stat'ed the same delta files.
    const load = this.#loadTemplate(entry, key, from, to, origin, cdn);
    entry.templates.set(key, load);
    load.catch(() => {
      if (entry.templates.get(key) === load) entry.templates.delete(key);
    });
    return load;
  }

  /**
   * Channel names come from clients: entries for ones that do not exist are kept (a client on an
   * unknown channel checks in again and again), but only the latest few, so a flood of made-up
   * names cannot grow the cache without bound. Real channels are as many as admins made.
   */
  #keepUnknown(key: string): void {
    this.#unknown.delete(key);
    this.#unknown.add(key);
    if (this.#unknown.size <= UNKNOWN_CHANNELS_KEPT) return;
    const oldest = this.#unknown.values().next().value as string;
    this.#unknown.delete(oldest);
    const entry = this.#entries.get(oldest);
    if (entry && !(entry instanceof Promise) && entry.channel === null) this.#entries.delete(oldest);
  }

  #fresh(e: ChannelEntry): boolean {
    return e.generation === this.#generation && e.counter === this.#counter() && this.#clock() - e.loadedAt < this.#maxAgeMs;
  }

  #counter(): number {
    return this.#store.changeCounter?.() ?? -1;
  }

  async #load(app: string, name: string): Promise<ChannelEntry> {
    const generation = this.#generation;
    const counter = this.#counter();
    const channel = await this.#store.getChannel(app, name);
    const releases = new Map<string, KnownRelease | null>();
    for (const id of [channel?.release, channel?.previous, channel?.minimum]) {
      if (id && !releases.has(id)) releases.set(id, await this.#store.getRelease(id));
    }
    return { channel, releases, templates: new Map(), templateBytes: 0, loadedAt: this.#clock(), counter, generation };
  }

  async #loadTemplate(entry: ChannelEntry, key: string, from: string | null, to: string, origin: string, cdn: readonly string[]): Promise<RenderedTemplate | null> {
    if (entry.templates.size >= this.#maxTemplates || entry.templateBytes >= this.#maxTemplateBytes) {
      // Unknown `from` ids and origins are client-supplied: never let them grow the entry without bound.
      entry.templates.clear();
      entry.templateBytes = 0;
      entry.last = undefined;
      const keep = [entry.channel?.release, entry.channel?.previous, entry.channel?.minimum];
      for (const id of entry.releases.keys()) if (!keep.includes(id)) entry.releases.delete(id);
    }
    for (const id of [to, from]) {
      if (id && !entry.releases.has(id)) entry.releases.set(id, await this.#store.getRelease(id));
    }
    const known = new Map<string, KnownRelease>();
    for (const [id, r] of entry.releases) if (r) known.set(id, r);
    const deltas = await this.#deltaInfo(from ? known.get(from) : undefined, known.get(to));
    const t = entry.channel ? planTemplate({ app: entry.channel.app, channel: entry.channel, from, to, releases: known, origin, cdn, deltas }) : null;
    const rendered = t ? renderTemplate(t) : null;
    if (entry.templates.has(key)) {
      entry.templates.set(key, rendered);
      if (rendered) entry.templateBytes += renderedBytes(rendered);
    }
    return rendered;
  }

  /** The stored deltas from `from`'s parts to their successors in `to`: a few stats, once per template. */
  async #deltaInfo(from: KnownRelease | undefined, to: KnownRelease | undefined): Promise<Map<string, DeltaInfo> | undefined> {
    if (!this.#deltas || !from || !to) return undefined;
    const out = new Map<string, DeltaInfo>();
    for (const pair of predecessors(from.manifest, to.manifest)) {
      const info = await this.#deltas.info(pair.from, pair.to, this.#inlineDeltaBytes);
      if (info) out.set(pair.to, info);
    }
    return out;
  }
}
