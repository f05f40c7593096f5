/**
 * Chaos runs: a seeded schedule of faults (CDN and origin down, corrupt, refused with Retry-After,
 * dropped or hung parts, offline, a stopped worker, reloads, tabs, a newer release mid-way) against
 * a real deployment and a real Chromium, then the invariants with every fault cleared. A run is a
 * pure function of its seed: `UPDRAFT_CHAOS_SEED=<seed> UPDRAFT_CHAOS_RUNS=1` replays it.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import type { ReleaseManifest } from '../../protocol/index.js';
import { UpdraftDriver } from '../kit/index.js';
import { VERSIONS, type DemoVersion } from './builds.js';
import { blobPath, storedParts } from './fault-kit.js';
import type { Fault, Faults } from './faults.js';
import { Harness } from './harness.js';
import { completenessProblems, PageLoads, releasesMatching } from './page-loads.js';

/** The SW's attempts per part per plan (`MAX_ATTEMPTS` in sw/fetch-part.ts). */
const MAX_ATTEMPTS = 6;
/** How long the target may take to activate once every fault is cleared. */
export const RECOVERY_MS = 45_000;

export interface ChaosSettings {
  runs: number;
  /** Run i uses seed `seed + i`. */
  seed: number;
}

/** `UPDRAFT_CHAOS_RUNS` (default `defaultRuns`) and `UPDRAFT_CHAOS_SEED` (default 1: CI replays the same runs). */
export function chaosSettings(defaultRuns: number): ChaosSettings {
  const runs = Number(process.env.UPDRAFT_CHAOS_RUNS ?? defaultRuns);
  const seed = Number(process.env.UPDRAFT_CHAOS_SEED ?? 1);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`UPDRAFT_CHAOS_RUNS must be a positive integer, not ${process.env.UPDRAFT_CHAOS_RUNS}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`UPDRAFT_CHAOS_SEED must be a non-negative integer, not ${process.env.UPDRAFT_CHAOS_SEED}`);
  return { runs, seed };
}

/** mulberry32: small, fast, and the same sequence on every machine. */
export class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let r = this.next() * items.reduce((n, [, w]) => n + w, 0);
    for (const [item, w] of items) if ((r -= w) < 0) return item;
    return items[items.length - 1]![0];
  }
}

export interface RunReport {
  seed: number;
  target: string;
  actions: string[];
  /** Invariant violations; empty for a passing run. */
  violations: string[];
  /** Browser requests per part at the busiest server, and the bound it had to stay under. */
  maxPartRequests: number;
  partBound: number;
  recoveryMs: number;
  /** Faults requests met, by kind (hung requests released at the end count as `pass`). */
  met: Record<string, number>;
  /** Responses checked against their release's manifest on the open pages at the end ("path@version:sw|net"). */
  verified: string[];
}

type Server = 'cdn' | 'origin';
type Action =
  | 'cdn-down' | 'cdn-up' | 'origin-restart' | 'origin-down' | 'origin-up'
  | 'corrupt' | 'corrupt-everywhere' | 'refuse' | 'refuse-check-in' | 'drop' | 'hang' | 'unhang'
  | 'offline' | 'online' | 'stop-worker' | 'reload' | 'new-tab' | 'close-tab' | 'lazy'
  | 'check-now' | 'sync' | 'publish-v3' | 'evict';

/** A promise that gives up (resolving to undefined) after `ms`: chaos actions may meet a dead server. */
async function bounded<T>(ms: number, work: () => Promise<T>): Promise<T | undefined> {
  let timer: Parameters<typeof clearTimeout>[0];
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(r, ms)));
  try {
    return await Promise.race([work().catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ChaosRun {
  readonly rng: Prng;
  readonly actions: string[] = [];
  readonly violations: string[] = [];
  readonly pages: Page[] = [];
  #h!: Harness;
  #context!: BrowserContext;
  #driver!: UpdraftDriver;
  #loads!: PageLoads;
  #manifests = new Map<DemoVersion, ReleaseManifest>();
  #target: DemoVersion = '2.0.0';
  #cdnUp = true;
  #originUp = true;
  #offline = false;
  /** Per server and part, 429/503 answers with a Retry-After injected: they spend no attempt. */
  #refusals = { cdn: new Map<string, number>(), origin: new Map<string, number>() };
  #navigations = 0;
  #verified: string[] = [];
  #t0 = Date.now();
  #met: Record<string, number> = {};

  constructor(readonly seed: number) {
    this.rng = new Prng(seed);
  }

  /** Runs the schedule, clears the faults, waits for the target, checks every invariant. */
  async run(browser: Browser): Promise<RunReport> {
    this.#h = await Harness.start();
    this.#context = await browser.newContext();
    try {
      for (const v of VERSIONS) this.#manifests.set(v, this.#h.manifest(v));
      this.#countMet(this.#h.faults);
      this.#countMet(this.#h.cdn!.faults);
      this.#loads = new PageLoads(this.#context, this.#h.url);
      const page = await this.#context.newPage();
      this.pages.push(page);
      this.#driver = new UpdraftDriver(page);
      const v1 = await this.#h.publish('1.0.0');
      await page.goto(this.#h.url);
      await this.#driver.waitForRelease(v1.id);
      this.#h.traffic.clear();
      this.#h.cdn!.traffic.clear();
      this.#h.checkIns.length = 0;
      await this.#publish('2.0.0');

      // Faults first, so the download meets them; then faults, kicks and browser events mixed.
      const early = this.rng.int(1, 4);
      for (let i = 0; i < early; i++) await this.#act(this.#pickAction(true));
      if (this.rng.chance(0.7)) await this.#act('check-now');
      const steps = this.rng.int(6, 16);
      for (let i = 0; i < steps; i++) {
        await this.#act(this.#pickAction(false));
        await sleep(this.rng.chance(0.5) ? this.rng.int(0, 100) : this.rng.int(100, 700));
      }
      return await this.#finish();
    } finally {
      await this.#context.close().catch(() => {});
      await this.#h.close();
    }
  }

  /** Counts the faults requests actually met (a fault added after its part was fetched meets nothing). */
  #countMet(faults: Faults): void {
    const apply = faults.apply.bind(faults);
    faults.apply = async (path, key, via) => {
      const verdict = await apply(path, key, via);
      if (verdict.kind !== 'pass') this.#met[verdict.kind] = (this.#met[verdict.kind] ?? 0) + 1;
      return verdict;
    };
  }

  #log(line: string): void {
    this.actions.push(line);
    if (process.env.UPDRAFT_CHAOS_VERBOSE) console.log(`[seed ${this.seed} +${Date.now() - this.#t0} ms] ${line}`);
  }

  #pickAction(faultsOnly: boolean): Action {
    const faults: [Action, number][] = [
      [this.#cdnUp ? 'cdn-down' : 'cdn-up', 1],
      ['corrupt', 2.5],
      ['corrupt-everywhere', 0.6],
      ['refuse', 2],
      ['refuse-check-in', 0.7],
      ['drop', 1.5],
      ['hang', 1],
      [this.#offline ? 'online' : 'offline', 0.5],
    ];
    if (faultsOnly) return this.rng.weighted(faults);
    const choices: [Action, number][] = [
      this.#cdnUp ? ['cdn-down', 1.5] : ['cdn-up', 2.5],
      this.#originUp ? ['origin-restart', 1.5] : ['origin-up', 4],
      ['corrupt', 2.5],
      ['corrupt-everywhere', 0.6],
      ['refuse', 2],
      ['refuse-check-in', 1],
      ['drop', 1.5],
      ['hang', 1],
      ['unhang', 0.8],
      this.#offline ? ['online', 2.5] : ['offline', 1.2],
      ['stop-worker', 1.5],
      ['reload', 2],
      ['lazy', 1.5],
      ['check-now', 2.5],
      ['sync', 2],
      ['evict', 0.8],
    ];
    if (this.#originUp) choices.push(['origin-down', 0.4]);
    if (this.pages.length < 3) choices.push(['new-tab', 1]);
    if (this.pages.length > 1) choices.push(['close-tab', 0.5]);
    if (this.#target === '2.0.0') choices.push(['publish-v3', 0.8]);
    return this.rng.weighted(choices);
  }

  /** Mostly a part the update must download (the target's, not in 1.0.0); sometimes any part of any release. */
  #pickPart(): string {
    if (this.rng.chance(0.2)) return this.rng.pick(this.#manifests.get(this.rng.pick(VERSIONS))!.assets).sha256;
    const have = new Set(this.#manifests.get('1.0.0')!.assets.map((a) => a.sha256));
    const target = this.rng.chance(0.7) ? this.#target : this.rng.pick(['2.0.0', '3.0.0'] as const);
    return this.rng.pick(this.#manifests.get(target)!.assets.filter((a) => !have.has(a.sha256))).sha256;
  }

  #server(): Server {
    return this.rng.chance(0.5) ? 'cdn' : 'origin';
  }

  #faults(server: Server): Faults {
    return server === 'cdn' ? this.#h.cdn!.faults : this.#h.faults;
  }

  #addFault(server: Server, key: string, fault: Fault): void {
    this.#faults(server).add(key, fault);
    if (fault.kind === 'status' && fault.retryAfter !== undefined) {
      const m = this.#refusals[server];
      m.set(key, (m.get(key) ?? 0) + (fault.times ?? 1));
    }
    this.#log(`${fault.kind}${fault.kind === 'status' ? ` ${fault.status} Retry-After ${fault.retryAfter}` : ''} x${fault.times ?? 1} at ${server} for ${key.slice(0, 12)}`);
  }

  async #act(action: Action): Promise<void> {
    const { rng } = this;
    const h = this.#h;
    switch (action) {
      case 'cdn-down':
        this.#log('cdn down');
        await h.cdn!.stop();
        this.#cdnUp = false;
        return;
      case 'cdn-up':
        this.#log('cdn up');
        await h.cdn!.start();
        this.#cdnUp = true;
        return;
      case 'origin-restart':
        this.#log('origin restart');
        await h.stopOrigin();
        await h.startOrigin();
        return;
      case 'origin-down':
        this.#log('origin down');
        await h.stopOrigin();
        this.#originUp = false;
        return;
      case 'origin-up':
        this.#log('origin up');
        await h.startOrigin();
        this.#originUp = true;
        return;
      case 'corrupt': {
        const server = this.#server();
        this.#addFault(server, this.#pickPart(), { kind: 'corrupt', times: rng.int(1, 2) });
        return;
      }
      case 'corrupt-everywhere': {
        // Unrecoverable while it lasts: the plan must fail cleanly, and succeed once it is cleared.
        const part = this.#pickPart();
        this.#addFault('cdn', part, { kind: 'corrupt', times: Infinity });
        this.#addFault('origin', part, { kind: 'corrupt', times: Infinity });
        return;
      }
      case 'refuse':
        this.#addFault(this.#server(), this.#pickPart(), { kind: 'status', status: rng.pick([429, 503] as const), retryAfter: rng.int(1, 2), times: rng.int(1, 2) });
        return;
      case 'refuse-check-in':
        this.#addFault('origin', '/v1/check-in', { kind: 'status', status: rng.pick([429, 503] as const), retryAfter: rng.int(1, 2), times: 1 });
        return;
      case 'drop':
        this.#addFault(this.#server(), this.#pickPart(), { kind: 'drop', times: rng.int(1, 2) });
        return;
      case 'hang':
        this.#addFault(this.#server(), this.#pickPart(), { kind: 'hang' });
        return;
      case 'unhang': {
        const server = this.#server();
        const drop = rng.chance(0.5);
        this.#log(`${drop ? 'drop' : 'release'} hung requests at ${server}`);
        if (drop) this.#faults(server).dropHung();
        else this.#faults(server).releaseAll();
        return;
      }
      case 'offline':
        this.#log('offline');
        await this.#driver.offline();
        this.#offline = true;
        return;
      case 'online':
        this.#log('online');
        await this.#driver.online();
        this.#offline = false;
        return;
      case 'stop-worker':
        this.#log('stop worker');
        await bounded(3_000, () => this.#driver.stopWorker());
        return;
      case 'reload': {
        const i = rng.int(0, this.pages.length - 1);
        this.#log(`reload tab ${i}`);
        await this.#navigate(this.pages[i]!, (p) => p.reload());
        return;
      }
      case 'new-tab': {
        const page = await this.#context.newPage();
        this.pages.push(page);
        this.#log(`open tab ${this.pages.length - 1}`);
        await this.#navigate(page, (p) => p.goto(h.url));
        return;
      }
      case 'close-tab': {
        const i = rng.int(1, this.pages.length - 1);
        this.#log(`close tab ${i}`);
        await this.pages.splice(i, 1)[0]!.close();
        return;
      }
      case 'lazy': {
        const i = rng.int(0, this.pages.length - 1);
        this.#log(`lazy chunk in tab ${i}`);
        await this.#lazy(this.pages[i]!, 3_000);
        return;
      }
      case 'evict': {
        // The browser dropping a stored part (storage pressure): pages and plans must refetch it by hash.
        const sha = this.rng.pick(this.rng.pick([...this.#manifests.values()]).assets).sha256;
        this.#log(`evict ${sha.slice(0, 12)}`);
        await bounded(3_000, () =>
          this.pages[0]!.evaluate(async (sha) => {
            const cache = await caches.open('updraft-parts');
            for (const key of await cache.keys()) if (key.url.endsWith(sha)) await cache.delete(key);
          }, sha),
        );
        return;
      }
      case 'check-now':
        this.#log('check now');
        await bounded(4_000, () => this.#driver.message({ type: 'updraft:check-now' }, { timeout: 3_500 }));
        return;
      case 'sync':
        this.#log('sync');
        await bounded(3_000, () => this.#driver.sync());
        return;
      case 'publish-v3':
        if (!this.#originUp) {
          await h.startOrigin();
          this.#originUp = true;
        }
        // Faults are keyed by part and path, not by admin route: publishing itself goes through.
        await this.#publish('3.0.0');
        this.#target = '3.0.0';
        return;
    }
  }

  /**
   * Publishes from Node. Once more on a transport error: right after an origin restart Node's fetch
   * may reuse a pooled keep-alive socket the old server instance closed ("other side closed", seen
   * twice in 260 runs); publishing the same build again is idempotent.
   */
  async #publish(version: DemoVersion): Promise<void> {
    this.#log(`publish ${version}`);
    try {
      await this.#h.publish(version);
    } catch (e) {
      this.#log(`publish ${version} failed (${String(e)}), again`);
      await this.#h.publish(version);
    }
  }

  /** Navigates and, if the page rendered, checks it shows one release; a page that did not load under faults is no violation. */
  async #navigate(page: Page, go: (p: Page) => Promise<unknown>): Promise<void> {
    this.#navigations++;
    await bounded(5_000, () => go(page));
    const version = await bounded(2_000, () => page.locator('#version').textContent({ timeout: 1_500 }));
    if (!version) return;
    await this.#checkUnmixed(page, `tab load (${this.actions.length})`);
  }

  /** Loads the lazy chunk; when it loads, its version must be the page's. Returns whether it loaded. */
  async #lazy(page: Page, timeout: number): Promise<boolean> {
    const result = await bounded(timeout + 500, async () => {
      await page.locator('#load-about').click({ timeout });
      await page.waitForFunction(() => document.getElementById('lazy')!.textContent !== '', undefined, { timeout });
      return page.evaluate(() => ({ main: document.getElementById('version')!.textContent, lazy: document.getElementById('lazy')!.dataset.version ?? null }));
    });
    if (!result || result.lazy === null) return false;
    if (result.main !== result.lazy) this.violations.push(`mixed releases: main chunk ${result.main}, lazy chunk ${result.lazy} (after action ${this.actions.length})`);
    await this.#checkUnmixed(page, `lazy load (${this.actions.length})`);
    return true;
  }

  async #checkUnmixed(page: Page, when: string): Promise<void> {
    const load = await bounded(3_000, () => this.#loads.current(page));
    if (!load) return;
    if (releasesMatching(load, [...this.#manifests.values()]).length === 0) {
      const got = load.entries.map((e) => `${e.path}=${e.status}:${e.sha256?.slice(0, 8) ?? '?'}`).join(', ');
      this.violations.push(`${when}: the page got bytes no single release has: ${got}`);
    }
  }

  /** Clears every fault, kicks until the target is active, then checks the invariants on every open page. */
  async #finish(): Promise<RunReport> {
    const h = this.#h;
    h.faults.clear();
    h.cdn!.faults.clear();
    if (!this.#originUp) await h.startOrigin();
    if (!this.#cdnUp) await h.cdn!.start();
    await this.#driver.online();
    this.#log('faults cleared');
    if (process.env.UPDRAFT_CHAOS_VERBOSE) {
      await bounded(2_000, () => this.#driver.state());
      for (const w of this.#context.serviceWorkers()) console.log('sw onLine', await bounded(2_000, () => w.evaluate(() => navigator.onLine)));
    }
    const target = this.#manifests.get(this.#target)!;

    // Once faults stop, the target activates: the page asks to check in and Background Sync runs the tasks.
    const started = Date.now();
    let active: string | null = null;
    while (Date.now() - started < RECOVERY_MS) {
      await bounded(4_000, () => this.#driver.message({ type: 'updraft:check-now' }, { timeout: 3_500 }));
      await bounded(3_000, () => this.#driver.sync());
      const s = await bounded(3_000, () => this.#driver.waitForState((x) => x.active === target.id, { timeout: 2_000 }));
      if (s) {
        active = s.active;
        break;
      }
    }
    const recoveryMs = Date.now() - started;
    if (active !== target.id) {
      const s = await bounded(3_000, () => this.#driver.state());
      this.violations.push(`target ${target.version} not active ${RECOVERY_MS} ms after the faults stopped; state: ${JSON.stringify(s ? { active: s.active, staged: s.staged, plan: s.plan, holds: s.holdUntil, log: s.log.slice(-12) } : null)}`);
    }

    // Every stored part holds the bytes its hash names: nothing corrupt was ever staged.
    const stored = (await bounded(5_000, () => storedParts(this.pages[0]!))) ?? {};
    for (const [key, actual] of Object.entries(stored)) if (key !== actual) this.violations.push(`part ${key.slice(0, 12)} stored with bytes hashing to ${actual.slice(0, 12)}`);

    // The first tab reloads onto the target; every open tab then loads its lazy chunk and must be whole.
    await this.#navigate(this.pages[0]!, (p) => p.reload());
    for (const [i, page] of this.pages.entries()) await this.#checkComplete(page, i, i === 0 ? target : null);

    const { max, bound } = this.#partRequests();
    return { seed: this.seed, target: target.version, actions: this.actions, violations: this.violations, maxPartRequests: max, partBound: bound, recoveryMs, verified: this.#verified, met: this.#met };
  }

  async #checkComplete(page: Page, i: number, expected: ReleaseManifest | null): Promise<void> {
    const version = await bounded(3_000, () => page.locator('#version').textContent({ timeout: 2_500 }));
    const release = [...this.#manifests.values()].find((m) => m.version === version);
    if (!release) {
      this.violations.push(`tab ${i} shows no release (#version ${JSON.stringify(version)})`);
      return;
    }
    if (expected && release.id !== expected.id) this.violations.push(`tab ${i} shows ${release.version} after a reload, expected ${expected.version}`);
    if (!(await this.#lazy(page, 8_000))) this.violations.push(`tab ${i} (${release.version}) could not load its lazy chunk with no fault left`);
    const load = await this.#loads.current(page);
    for (const p of load ? completenessProblems(load, release, true) : ['no load recorded']) this.violations.push(`tab ${i} (${release.version}): ${p}`);
    for (const e of load?.entries ?? []) this.#verified.push(`${e.path}@${release.version}:${e.fromServiceWorker ? 'sw' : 'net'}`);
    // The release the worker pins this page to is the one it shows.
    let hello: string | null | undefined;
    let error = 'no answer within 4 s';
    for (let attempt = 0; attempt < 3 && hello === undefined; attempt++) {
      hello = await bounded(4_000, () =>
        page.evaluate(async () => (await window.updraft!.release()).release).catch((e: unknown) => {
          error = String(e);
          throw e;
        }),
      );
    }
    if (hello !== release.id) this.violations.push(`tab ${i} shows ${release.version} (${release.id}) but its worker pins ${hello === undefined ? `? (${error})` : String(hello)}`);
  }

  /**
   * The bound: each check-in may hand over a fresh plan (the server issues a new plan id), and a plan
   * tries each source at most MAX_ATTEMPTS times per part; 429/503 with Retry-After spend no
   * attempt; a page may refetch a pinned release's missing part from the origin once per load.
   */
  #partRequests(): { max: number; bound: number } {
    const plans = this.#h.checkIns.length + 1;
    let max = 0;
    let bound = 0;
    for (const server of ['cdn', 'origin'] as const) {
      const traffic = server === 'cdn' ? this.#h.cdn!.traffic : this.#h.traffic;
      for (const sha of new Set(traffic.blobs())) {
        const n = traffic.count(blobPath(sha));
        const b = MAX_ATTEMPTS * plans + (this.#refusals[server].get(sha) ?? 0) + (server === 'origin' ? this.#navigations + this.pages.length : 0);
        if (n > b) this.violations.push(`part ${sha.slice(0, 12)} requested ${n} times at the ${server}, bound ${b}`);
        if (n > max) max = n;
        bound = Math.max(bound, b);
      }
    }
    return { max, bound };
  }
}
