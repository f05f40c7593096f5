/**
 * Pinning when the network answers a navigation: the page is pinned to the release active when it
 * navigated, so after an activation its subresources still come from that release, never a mix.
 */
import type { Page } from '@playwright/test';
import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';
import { blobPath, visitV1 } from './support/fault-kit.js';

/** Deletes a part from the worker's cache, as the browser evicting it would. */
async function evict(page: Page, sha: string): Promise<void> {
  const evicted = await page.evaluate(async (sha) => {
    const cache = await caches.open('updraft-parts');
    const key = (await cache.keys()).find((r) => r.url.endsWith(sha));
    return key ? cache.delete(key) : false;
  }, sha);
  expect(evicted).toBe(true);
}

test('a page whose document the network answered (entry part evicted, refetch failing) keeps loading v1 after v2 activates', async ({ page, updraft, context }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const entry = v1.assets.find((a) => a.path === v1.entry)!;
    await evict(page, entry.sha256);
    h.faults.add(entry.sha256, { kind: 'status', status: 503, times: Infinity });

    const tab = await context.newPage();
    await tab.goto(h.url + 'settings');
    await expect(tab.locator('#version')).toHaveText('1.0.0');
    // The worker tried the refetch by hash, then handed the document to the network.
    expect(h.traffic.count(blobPath(entry.sha256))).toBeGreaterThanOrEqual(1);
    expect(h.traffic.count('/settings')).toBe(1);
    h.faults.clear();

    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    // The worker's install fetched every v1 file into the HTTP cache (immutable): a network fallback
    // would find v1's chunk there, not only the tab's pin. The browser evicts that cache at will.
    await (await context.newCDPSession(tab)).send('Network.clearBrowserCache');
    h.traffic.clear();
    // v1's lazy chunk, which v2 lacks and the server no longer serves: only the tab's pin finds it.
    await tab.locator('#load-about').click();
    await expect(tab.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
    expect(h.traffic.count(/^\/assets\//)).toBe(0);
  } finally {
    await h.close();
  }
});

test('a navigation to a file the release lacks (/report.pdf) is pinned too: its requests get v1 after v2 activates', async ({ page, updraft, context }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const tab = await context.newPage();
    // Not in the release: the network answers (the server's 404).
    const res = await tab.goto(h.url + 'report.pdf');
    expect(res?.status()).toBe(404);
    expect(h.traffic.count('/report.pdf')).toBe(1);

    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    h.traffic.clear();
    const lazy = v1.assets.find((a) => a.path.startsWith('assets/about-'))!;
    expect(v2.assets.some((a) => a.path === lazy.path)).toBe(false);
    // `no-store` keeps the browser's HTTP cache out of it: only the worker can answer with v1's chunk.
    const got = await tab.evaluate(async (path) => {
      const r = await fetch(path, { cache: 'no-store' });
      return { status: r.status, sha: r.headers.get('x-updraft-sha256') };
    }, '/' + lazy.path);
    expect(got).toEqual({ status: 200, sha: lazy.sha256 });
    expect(h.traffic.count('/' + lazy.path)).toBe(0);
  } finally {
    await h.close();
  }
});
