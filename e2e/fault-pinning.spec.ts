/** Fault matrix, pinning: a part of the release a tab is pinned to, evicted from the cache. */
import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';
import { blobPath, storedParts, visitV1 } from './support/fault-kit.js';

test('two tabs: a part of the pinned v1 that was evicted is refetched by hash, and tab A keeps loading v1', async ({ page, updraft, context }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const tabB = await context.newPage();
    await tabB.goto(h.url);
    await updraft.updateTo(v2.id);
    await tabB.reload();
    await expect(tabB.locator('#version')).toHaveText('2.0.0');

    // Tab A first loaded from the network and was claimed by the installing worker: it is pinned to v1 too.
    expect((await updraft.state()).pins.filter((p) => p.release === v1.id).length).toBeGreaterThanOrEqual(1);
    // The browser evicts one of v1's parts (tab A's lazy chunk) from Cache Storage.
    const lazy = v1.assets.find((a) => a.path.startsWith('assets/about-'))!;
    const evicted = await page.evaluate(async (sha) => {
      const cache = await caches.open('updraft-parts');
      const key = (await cache.keys()).find((r) => r.url.endsWith(sha));
      return key ? cache.delete(key) : false;
    }, lazy.sha256);
    expect(evicted).toBe(true);
    h.traffic.clear();
    h.cdn!.traffic.clear();

    // `no-store` keeps the browser's HTTP cache out of it: only the worker can answer with v1's chunk.
    const body = await page.evaluate(async (path) => {
      const res = await fetch(path, { cache: 'no-store' });
      return { status: res.status, sha: res.headers.get('x-updraft-sha256') };
    }, '/' + lazy.path);
    expect(body).toEqual({ status: 200, sha: lazy.sha256 });
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
    await expect(page.locator('#version')).toHaveText('1.0.0');
    // Refetched by hash from the origin, verified and stored again; nothing else was asked.
    expect(h.traffic.blobs()).toEqual([lazy.sha256]);
    expect(h.traffic.count(blobPath(lazy.sha256))).toBe(1);
    expect((await storedParts(page))[lazy.sha256]).toBe(lazy.sha256);

    // Now it is cached again: with the servers gone, tab A still gets it.
    await h.stopAll();
    const again = await page.evaluate(async (path) => (await fetch(path, { cache: 'no-store' })).status, '/' + lazy.path);
    expect(again).toBe(200);
    await tabB.locator('#load-about').click();
    await expect(tabB.locator('#lazy')).toHaveAttribute('data-version', '2.0.0');
  } finally {
    await h.close();
  }
});

test('a part the update shares with the running release, evicted before install, is refetched by hash and the update lands', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    // Same bytes in both releases: the plan has no fetch task for it (found by chaos seed 5017).
    const shared = v1.assets.find((a) => a.path === 'icon.svg')!;
    expect(v2.assets.find((a) => a.path === 'icon.svg')!.sha256).toBe(shared.sha256);
    await page.evaluate(async (sha) => {
      const cache = await caches.open('updraft-parts');
      for (const key of await cache.keys()) if (key.url.endsWith(sha)) await cache.delete(key);
    }, shared.sha256);
    await updraft.updateTo(v2.id);
    expect(h.traffic.count(blobPath(shared.sha256))).toBe(1);
    expect((await storedParts(page))[shared.sha256]).toBe(shared.sha256);
  } finally {
    await h.close();
  }
});
