/**
 * Pinning a client no navigation named: a worker started from a `blob:` URL has no script request
 * through the service worker, as a page has none in a browser without `resultingClientId`. It is
 * pinned at its first request, so after an activation it keeps the release it started on.
 */
import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';
import { visitV1 } from './support/fault-kit.js';

test('a worker started from a blob: URL (no request through the worker names it) is pinned at its first request: it gets v1 after v2 activates', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const lazy = v1.assets.find((a) => a.path.startsWith('assets/about-'))!;
    // The worker fetches what it is told and answers with the status and hash the answer carried.
    // Absolute URLs: a blob: worker's base URL is the blob's, against which '/assets/...' does not resolve.
    await page.evaluate(() => {
      const source = `onmessage = async (e) => {
        try {
          const r = await fetch(new URL(e.data, ${JSON.stringify(location.origin)}), { cache: 'no-store' });
          postMessage({ status: r.status, sha: r.headers.get('x-updraft-sha256') });
        } catch (error) {
          postMessage({ error: String(error) });
        }
      };`;
      const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
      (window as unknown as { ask: (path: string) => Promise<unknown> }).ask = (path) =>
        new Promise((resolve) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.postMessage(path);
        });
    });
    const ask = (path: string) => page.evaluate((p) => (window as unknown as { ask: (path: string) => Promise<unknown> }).ask(p), path);
    // Its first request, while v1 is active.
    expect(await ask('/' + lazy.path)).toEqual({ status: 200, sha: lazy.sha256 });

    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    h.traffic.clear();
    expect(await ask('/' + lazy.path)).toEqual({ status: 200, sha: lazy.sha256 });
    expect(h.traffic.count('/' + lazy.path)).toBe(0);
  } finally {
    await h.close();
  }
});
