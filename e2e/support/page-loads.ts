/**
 * What each page actually loaded: every response a page received (from its service worker, the
 * HTTP cache or the network), hashed as delivered, grouped per document. The bytes the page got are
 * what matter, so they are hashed from the response itself, not fetched again afterwards.
 */
import { createHash } from 'node:crypto';
import type { BrowserContext, Page, Response } from '@playwright/test';
import type { ReleaseManifest } from '../../protocol/index.js';

export interface Loaded {
  /** Asset path in a release ("index.html" for the document at the scope root). */
  path: string;
  status: number;
  fromServiceWorker: boolean;
  /** sha256 of the body as the page received it; null when the body could not be read. */
  sha256: string | null;
}

/** One document of one page: what its navigation and subresources returned. */
export interface PageLoad {
  page: Page;
  /** Counts documents per page: 0 for the first. */
  generation: number;
  entries: Loaded[];
  /** Hashing in progress; `settled()` awaits it. */
  pending: Promise<void>[];
}

export class PageLoads {
  #current = new Map<Page, PageLoad>();
  readonly all: PageLoad[] = [];

  constructor(
    context: BrowserContext,
    private readonly origin: string,
  ) {
    context.on('response', (r) => this.#record(r));
  }

  /** The latest document of `page`, with every body hashed. */
  async current(page: Page): Promise<PageLoad | undefined> {
    const load = this.#current.get(page);
    if (load) await Promise.all(load.pending);
    return load;
  }

  #record(response: Response): void {
    const request = response.request();
    if (request.serviceWorker()) return; // the worker's own fetches: not something a page shows
    let page: Page;
    try {
      page = request.frame().page();
    } catch {
      return;
    }
    const url = new URL(request.url());
    if (url.origin !== new URL(this.origin).origin) return;
    const path = decodeURIComponent(url.pathname.slice(1));
    if (path.startsWith('v1/') || path.startsWith('__updraft/') || path === 'sw.js' || path === 'updraft-release.json') return;
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      const previous = this.#current.get(page);
      const load: PageLoad = { page, generation: previous ? previous.generation + 1 : 0, entries: [], pending: [] };
      this.#current.set(page, load);
      this.all.push(load);
    }
    const load = this.#current.get(page);
    if (!load) return;
    const entry: Loaded = { path: path === '' ? 'index.html' : path, status: response.status(), fromServiceWorker: response.fromServiceWorker(), sha256: null };
    load.entries.push(entry);
    load.pending.push(
      response.body().then(
        (b) => void (entry.sha256 = createHash('sha256').update(b).digest('hex')),
        () => {},
      ),
    );
  }
}

/**
 * The releases (among `candidates`) that hold every OK response of `load` with the same bytes.
 * Empty: the page got bytes no single release has (mixed or corrupt). Unreadable bodies are skipped.
 */
export function releasesMatching(load: PageLoad, candidates: ReleaseManifest[]): ReleaseManifest[] {
  const got = load.entries.filter((e) => e.status === 200 && e.sha256 !== null);
  return candidates.filter((m) => got.every((e) => m.assets.some((a) => a.path === e.path && a.sha256 === e.sha256)));
}

/** Problems with `load` as a complete rendering of `release`: each asset it loaded matches, and the entry, main chunk and styles are there. */
export function completenessProblems(load: PageLoad, release: ReleaseManifest, lazyLoaded: boolean): string[] {
  const problems: string[] = [];
  for (const e of load.entries) {
    if (e.status !== 200) problems.push(`${e.path}: HTTP ${e.status}`);
    else if (e.sha256 === null) problems.push(`${e.path}: body unreadable`);
    else {
      const asset = release.assets.find((a) => a.path === e.path);
      if (!asset) problems.push(`${e.path}: not in release ${release.version}`);
      else if (asset.sha256 !== e.sha256) problems.push(`${e.path}: sha256 ${e.sha256.slice(0, 12)}… but ${release.version} has ${asset.sha256.slice(0, 12)}…`);
    }
  }
  const required = release.assets.filter((a) => a.path === release.entry || /^assets\/index-.*\.(js|css)$/.test(a.path) || (lazyLoaded && a.path.startsWith('assets/about-')));
  for (const a of required) {
    if (!load.entries.some((e) => e.path === a.path && e.status === 200)) problems.push(`${a.path}: never loaded`);
  }
  return problems;
}
