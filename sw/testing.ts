/**
 * An in-memory `Adapter` for driving the real runtime in Node (Angular's `SwTestHarness`): a fake
 * clock with `advance(ms)`, a scripted fetch that records every request, an in-memory parts cache
 * with an optional quota, and window clients that collect messages. Not imported by `index.ts`.
 */
import {
  computeReleaseId, expandPlan, planDocPath, planFromRef, sha256Hex,
  type CheckInUpdateRef, type Plan, type PlanDocument, type PlanRef, type PlanSignature, type ReleaseManifest, type SwConfig, type Task,
} from '../protocol/index.js';
import type { Adapter, PartsCache, PrecacheEntry, PrecacheLookup, WindowClientInfo } from './adapter.js';
import { MemoryStore } from './memory-store.js';
import { Runtime } from './runtime.js';
import type { SwStore } from './store.js';

export class FakeClock {
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private nextId = 1;
  constructor(public t = Date.UTC(2030, 0, 1)) {}

  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): number => {
    const id = this.nextId++;
    this.timers.push({ id, at: this.t + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (id: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };
  /** Moves time forward, firing due timers in order (the callbacks' promises are not awaited). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
  pendingTimers(): number[] {
    return this.timers.map((t) => t.at).sort((a, b) => a - b);
  }
}

export type Scripted = Response | Error | ((req: Request) => Response | Promise<Response>);

export interface SeenRequest {
  url: string;
  method: string;
  at: number;
  body: string | null;
  /** The request's cache mode (`default`, `no-store`, ...). */
  cache: RequestCache;
  /** Its signal aborted before the answer came: the fetch rejected with the signal's reason, as a browser's does. */
  aborted: boolean;
}

/** A table of URL → responses. Each call takes the next scripted answer; the last one repeats. Unknown URLs → 404. */
export class ScriptedFetch {
  readonly requests: SeenRequest[] = [];
  private table = new Map<string, Scripted[]>();
  constructor(private readonly clock: FakeClock) {}

  on(url: string, ...answers: Scripted[]): this {
    this.table.set(url, answers);
    return this;
  }

  urls(): string[] {
    return this.requests.map((r) => r.url);
  }
  count(url: string): number {
    return this.requests.filter((r) => r.url === url).length;
  }
  clear(): void {
    this.requests.length = 0;
  }

  fetch = async (input: string | Request, init?: RequestInit): Promise<Response> => {
    // The browser's fetch() rejects this pair (Fetch's Request constructor); a test that hands a
    // request over as the browser does (its getters shadowed) must see the same rejection here.
    if (typeof input !== 'string' && input.cache === 'only-if-cached' && input.mode !== 'same-origin' && !init) {
      throw new TypeError("'only-if-cached' can be set only with 'same-origin' mode");
    }
    const req = new Request(input, init);
    const body = init?.body != null ? String(init.body) : null;
    const seen: SeenRequest = { url: req.url, method: req.method, at: this.clock.now(), body, cache: req.cache, aborted: false };
    this.requests.push(seen);
    const signal = init?.signal ?? (typeof input === 'string' ? null : input.signal);
    if (!signal) return this.answer(req);
    if (signal.aborted) {
      seen.aborted = true;
      throw signal.reason;
    }
    // An answer held open (a scripted promise) ends when the request is aborted, as in a browser.
    let stop: () => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      stop = () => {
        seen.aborted = true;
        reject(signal.reason);
      };
      signal.addEventListener('abort', stop, { once: true });
    });
    try {
      return await Promise.race([this.answer(req), aborted]);
    } finally {
      signal.removeEventListener('abort', stop);
    }
  };

  /** URLs of the requests whose signal ended them before their answer. */
  aborted(): string[] {
    return this.requests.filter((r) => r.aborted).map((r) => r.url);
  }

  private answer = async (req: Request): Promise<Response> => {
    const queue = this.table.get(req.url);
    // data: URLs (inline deltas) never reach a server: the platform's fetch decodes them, as the browser's does.
    if (!queue && req.url.startsWith('data:')) return globalThis.fetch(req.url);
    if (!queue || queue.length === 0) return new Response('not found', { status: 404 });
    const answer = queue.length > 1 ? queue.shift()! : queue[0]!;
    if (answer instanceof Error) throw answer;
    if (typeof answer === 'function') return answer(req);
    return answer.clone();
  };
}

export class MemoryParts implements PartsCache {
  readonly entries = new Map<string, ArrayBuffer>();
  /** Each entry's response headers, kept as Cache Storage keeps them. */
  readonly headers = new Map<string, [string, string][]>();
  /** When set, a put that would take the total past it throws QuotaExceededError. */
  quota: number | null = null;

  async match(key: string) {
    const bytes = this.entries.get(key);
    return bytes ? new Response(bytes.slice(0), { headers: this.headers.get(key) ?? [] }) : undefined;
  }
  async put(key: string, response: Response) {
    const bytes = await response.arrayBuffer();
    const used = [...this.entries.values()].reduce((n, b) => n + b.byteLength, 0);
    if (this.quota !== null && used + bytes.byteLength > this.quota) throw new DOMException('quota', 'QuotaExceededError');
    this.entries.set(key, bytes);
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => headers.push([name, value]));
    this.headers.set(key, headers);
  }
  async delete(key: string) {
    this.headers.delete(key);
    return this.entries.delete(key);
  }
  async keys() {
    return [...this.entries.keys()];
  }
}

export interface TestAdapterOptions {
  scope?: string;
  clock?: FakeClock;
  fetch?: ScriptedFetch;
  store?: SwStore;
  parts?: MemoryParts;
  sync?: boolean;
}

export class TestAdapter implements Adapter {
  readonly scope: string;
  readonly clock: FakeClock;
  readonly server: ScriptedFetch;
  readonly db: SwStore;
  readonly cache: MemoryParts;
  readonly clients: WindowClientInfo[] = [];
  readonly messages: { clientId: string; message: unknown }[] = [];
  readonly syncTags: string[] = [];
  readonly periodic: { tag: string; minInterval: number }[] = [];
  readonly precached = new Map<string, ArrayBuffer>();
  periodicGranted = false;
  sync: boolean;
  claimed = 0;
  skippedWaiting = 0;
  precacheDropped = 0;
  private ids = 0;

  constructor(o: TestAdapterOptions = {}) {
    this.scope = o.scope ?? 'https://app.test/';
    this.clock = o.clock ?? new FakeClock();
    this.server = o.fetch ?? new ScriptedFetch(this.clock);
    this.db = o.store ?? new MemoryStore();
    this.cache = o.parts ?? new MemoryParts();
    this.sync = o.sync ?? true;
  }

  /** A second worker instance over the same persistent state (a restart). */
  restart(): TestAdapter {
    const a = new TestAdapter({ scope: this.scope, clock: this.clock, fetch: this.server, store: this.db, parts: this.cache, sync: this.sync });
    a.clients.push(...this.clients);
    return a;
  }

  now = () => this.clock.now();
  random = () => 0.5;
  randomId = () => `test-client-${String(++this.ids).padStart(10, '0')}`;
  setTimeout = (fn: () => void, ms: number) => this.clock.setTimeout(fn, ms);
  clearTimeout = (h: unknown) => this.clock.clearTimeout(h);
  fetch = (input: string | Request, init?: RequestInit) => this.server.fetch(input, init);
  parts = async () => this.cache;
  store = async () => this.db;
  windows = async () => [...this.clients];
  /** Worker clients (a page's dedicated worker), beside the windows in `clients`. */
  readonly workers: string[] = [];
  clientIds = async () => [...this.clients.map((c) => c.id), ...this.workers];
  postMessage = async (clientId: string, message: unknown) => {
    this.messages.push({ clientId, message });
  };
  claim = async () => {
    this.claimed++;
  };
  skipWaiting = async () => {
    this.skippedWaiting++;
  };
  hasSync = () => this.sync;
  registerSync = async (tag: string) => {
    if (!this.sync) return false;
    this.syncTags.push(tag);
    return true;
  };
  registerPeriodicSync = async (tag: string, minInterval: number) => {
    if (!this.periodicGranted) return false;
    this.periodic.push({ tag, minInterval });
    return true;
  };
  estimate = async () => ({ quota: 1_000_000_000, usage: 1000 });
  precache = async (entries: PrecacheEntry[]): Promise<PrecacheLookup> => {
    for (const e of entries) {
      const res = await this.server.fetch(e.url);
      if (!res.ok) throw new Error(`precache ${e.url}: HTTP ${res.status}`);
      const bytes = await res.arrayBuffer();
      if (bytes.byteLength !== e.size || (await sha256Hex(bytes)) !== e.sha256) throw new Error(`precache ${e.url}: the bytes do not match the manifest's sha256 and size`);
      this.precached.set(e.url, bytes);
    }
    return async (url) => {
      const bytes = this.precached.get(url);
      return bytes ? new Response(bytes.slice(0)) : undefined;
    };
  };
  dropPrecache = async () => {
    this.precached.clear();
    this.precacheDropped++;
  };

  /** `UpdraftEvent`s broadcast so far, by name. */
  events(name?: string): { name: string; [k: string]: unknown }[] {
    const all = this.messages.map((m) => (m.message as { event: { name: string } }).event);
    const seen = new Set<unknown>();
    // One broadcast reaches every client: count it once.
    return all.filter((e) => (seen.has(e) ? false : (seen.add(e), true))).filter((e) => !name || e.name === name);
  }
}

// ---- fixtures ----

export interface BuiltRelease {
  manifest: ReleaseManifest;
  files: Record<string, string>;
  /** sha256 → bytes */
  blobs: Map<string, string>;
  /** Its sequence if published now: increases with each release a test builds. */
  seq: number;
}

const TYPES: Record<string, string> = { html: 'text/html', js: 'text/javascript', css: 'text/css', json: 'application/json' };

/** Releases built later get higher sequences, as if published in the order a test builds them. */
let lastSeq = 0;

/** `sw`: the worker script's text, which the id then covers (as builds since protocol 0.6); omitted, no `sw`. */
export async function buildRelease(files: Record<string, string>, version = '1.0.0', entry = 'index.html', sw?: string): Promise<BuiltRelease> {
  const blobs = new Map<string, string>();
  const assets = [];
  for (const [path, text] of Object.entries(files)) {
    const sha256 = await sha256Hex(text);
    blobs.set(sha256, text);
    assets.push({ path, sha256, size: new TextEncoder().encode(text).byteLength, type: TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream' });
  }
  const worker = sw === undefined ? undefined : { path: 'sw.js', sha256: await sha256Hex(sw), size: new TextEncoder().encode(sw).byteLength, type: 'text/javascript' };
  const id = await computeReleaseId(assets, entry, worker);
  return { manifest: { id, app: 'demo', version, createdAt: '2030-01-01T00:00:00.000Z', entry, assets, ...(worker ? { sw: worker } : {}) }, files, blobs, seq: ++lastSeq };
}

export interface PlanOptions {
  planId?: string;
  from?: string | null;
  issuedAt?: number;
  expiresIn?: number;
  activation?: Plan['activation'];
  /** Source URL templates; `{sha}` is replaced. */
  sources?: string[];
  notBefore?: (index: number, issuedAt: number) => number;
  /** Only these hashes get fetch tasks (default: every asset). */
  only?: string[];
  /** @default the release's build order (`BuiltRelease.seq`) */
  toSeq?: number;
  rollback?: boolean;
}

export function buildPlan(target: BuiltRelease, o: PlanOptions = {}): Plan {
  // The fake clock's start: a plan is refused when it expired long before it arrived (freshness).
  const issuedAt = o.issuedAt ?? Date.UTC(2030, 0, 1);
  const sources = o.sources ?? ['https://cdn.test/b/{sha}', 'https://app.test/v1/blobs/{sha}'];
  const shas = o.only ?? [...new Set(target.manifest.assets.map((a) => a.sha256))];
  const tasks: Task[] = shas.map((sha, i) => ({
    id: `fetch-${i}`,
    kind: 'fetch',
    after: [],
    sha256: sha,
    size: new TextEncoder().encode(target.blobs.get(sha) ?? '').byteLength,
    sources: sources.map((s) => s.replace('{sha}', sha)),
    notBefore: o.notBefore ? o.notBefore(i, issuedAt) : issuedAt,
  }));
  const fetchIds = tasks.map((t) => t.id);
  tasks.push({ id: 'install', kind: 'install', after: fetchIds });
  tasks.push({ id: 'report-downloaded', kind: 'report', event: 'downloaded', after: ['install'] });
  tasks.push({ id: 'activate', kind: 'activate', after: ['install'] });
  tasks.push({ id: 'report-activated', kind: 'report', event: 'activated', after: ['activate'] });
  return {
    planId: o.planId ?? `plan-${target.manifest.id}`,
    app: 'demo',
    from: o.from ?? null,
    to: target.manifest.id,
    toSeq: o.toSeq ?? target.seq,
    ...(o.rollback ? { rollback: true } : {}),
    issuedAt,
    expiresAt: issuedAt + (o.expiresIn ?? 7 * 24 * 3600_000),
    activation: o.activation ?? 'next-navigation',
    release: target.manifest,
    tasks,
  };
}

/**
 * A check-in's `update` answer with `plan`, issued as the server issues one: for the release the
 * check-in names (`from`), unless the plan names one. For unsigned plans (a signed plan names its
 * `from` before it is signed).
 */
export function updateAnswer(plan: Plan): (req: Request) => Promise<Response> {
  return async (req) => {
    const { release } = (await req.json()) as { release: string | null };
    const body = { status: 'update', nextCheckIn: 3600, plan: { ...plan, from: plan.from ?? release } };
    return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
  };
}

/**
 * A worker installed and activated on a release of `files` (served at the adapter's scope, with a
 * manifest, a `current` check-in and a reports endpoint), and one window open: where most runtime
 * tests start.
 */
export async function installedRuntime(files: Record<string, string>, config: SwConfig, a = new TestAdapter()): Promise<{ a: TestAdapter; rt: Runtime; r1: BuiltRelease }> {
  const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
  const r1 = await buildRelease(files, '1.0.0');
  a.server.on(a.scope + 'updraft-release.json', json(r1.manifest));
  for (const [path, text] of Object.entries(files)) a.server.on(a.scope + path, new Response(text));
  a.server.on(a.scope + 'v1/check-in', json({ status: 'current', nextCheckIn: 3600 }));
  a.server.on(a.scope + 'v1/reports', new Response(null, { status: 204 }));
  a.clients.push({ id: 'window-1', url: a.scope });
  const rt = new Runtime(a, config);
  await rt.onInstall();
  await rt.onActivate();
  // The first check-in, which activation starts but does not wait for.
  await rt.idle();
  return { a, rt, r1 };
}

/** A plan split as a server answering by reference sends it (protocol plan-ref.ts). */
export interface PlanByReference {
  /** The check-in answer. */
  answer: CheckInUpdateRef;
  /** The document's path, relative to the server's base URL, and its bytes as served there. */
  path: string;
  doc: string;
  /** What the worker rebuilds from the two: the plan it verifies and stores. */
  plan: Plan;
}

/**
 * `plan` by reference: its parts under `bases` (each part's sources must be `<base>v1/blobs/<sha>`
 * in that order; `buildPlan` with `sources: bases.map((b) => b + 'v1/blobs/{sha}')`), one time for
 * all. `sign` signs the plan as the worker rebuilds it (task ids of the compact form).
 */
export async function byReference(plan: Plan, bases: string[], sign?: (p: Plan) => Promise<PlanSignature[]>, channel = 'stable'): Promise<PlanByReference> {
  const fetches = plan.tasks.filter((t) => t.kind === 'fetch');
  const document: PlanDocument = {
    app: plan.app, from: plan.from, to: plan.to, toSeq: plan.toSeq, rollback: plan.rollback === true, activation: plan.activation, release: plan.release,
    fetch: { bases, parts: fetches.map((t) => ({ sha256: t.sha256, size: t.size, ...(t.deltas ? { deltas: t.deltas } : {}) })) },
  };
  const doc = JSON.stringify(document);
  const path = planDocPath(plan.app, channel, plan.from, plan.to, await sha256Hex(doc));
  const ref: PlanRef = { planId: plan.planId, issuedAt: plan.issuedAt, expiresAt: plan.expiresAt, servedAt: plan.servedAt ?? plan.issuedAt, doc: path, notBefore: fetches[0]?.notBefore ?? plan.issuedAt };
  const unsigned = planFromRef(ref, document);
  if (typeof unsigned === 'string') throw new Error(unsigned);
  const rebuilt = expandPlan(unsigned)!;
  if (sign) ref.signatures = await sign(rebuilt);
  return { answer: { status: 'update-ref', nextCheckIn: 3600, ref }, path, doc, plan: { ...rebuilt, ...(ref.signatures ? { signatures: ref.signatures } : {}) } };
}
