// A cached page load with Updraft's worker against the same build under a workbox-precaching
// worker, in the same Chromium, same run: two origins (the real Updraft server; a static server
// with the workbox worker), both warm (the worker installed and controlling, every file cached).
// Each repetition loads each app once more in a new tab (alternating which goes first) and reads its
// navigation timing: loadEventEnd, i.e. the document and every subresource (48 images, the script)
// answered by the worker. Ends with `cached-load updraft/workbox=R` (medians).
import type { Page } from '@playwright/test';
import { publishDirectory } from '../server/index.js';
import { UpdraftDriver } from '../e2e/kit/driver.js';
import { Harness, TOKEN } from '../e2e/support/harness.js';
import { buildBenchApp } from './support/bench-app.js';
import { launchChromium, median, spread } from './support/browser.js';
import { bundleWorkboxWorker, startWorkboxOrigin } from './support/workbox-origin.js';

const REPS = Number(process.env.UPDRAFT_BENCH_REPS_LOAD ?? 40);
const ASSETS = 50;

const app = await buildBenchApp({ assets: ASSETS, version: '1.0.0', images: ASSETS - 2 });
// Unsigned plans: the bench app's worker trusts no key, and the e2e key (made by e2e's global
// setup) is not there on a fresh clone, where `npm run bench` must run before any test.
const h = await Harness.start({ cdn: false, signingKeys: [] });
await publishDirectory(app.dir, { channel: 'stable', server: h.url, token: TOKEN });
const wb = await startWorkboxOrigin(app, await bundleWorkboxWorker(app));
const browser = await launchChromium();

// Strings, not functions: tsx's transform adds `__name(...)` calls the page does not have.
const LOAD_END = `(() => { const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd > 0 ? n.loadEventEnd : 0; })()`;
// Where the time goes: the document's worker time (workerStart → responseEnd) and when the last
// subresource was answered, both from the page's own timing entries.
const PHASES = `(() => {
  const n = performance.getEntriesByType('navigation')[0];
  const r = performance.getEntriesByType('resource');
  return { doc: n.responseEnd - n.workerStart, lastResource: Math.max(0, ...r.map((x) => x.responseEnd)) };
})()`;
const CONTROLLED = `navigator.serviceWorker.controller !== null`;

interface Side {
  name: 'updraft' | 'workbox';
  url: string;
  page: Page;
  ms: number[];
  doc: number[];
  lastResource: number[];
}

// Each load in a new tab of the side's context (the first tab stays open): navigating one tab over
// and over made both sides' loads slower with every repetition (215 ms → 880 ms over 30 in one run),
// which drowned the comparison.
async function load(side: Side): Promise<{ ms: number; doc: number; lastResource: number; fromNetwork: string[] }> {
  const fromNetwork: string[] = [];
  const page = await side.page.context().newPage();
  page.on('response', (r) => {
    if (!r.fromServiceWorker() && !r.request().serviceWorker() && !r.url().endsWith('/sw.js')) fromNetwork.push(r.url());
  });
  try {
    await page.goto(side.url, { waitUntil: 'load' });
    await page.waitForFunction(LOAD_END);
    const ms = (await page.evaluate(LOAD_END)) as number;
    const phases = (await page.evaluate(PHASES)) as { doc: number; lastResource: number };
    return { ms, ...phases, fromNetwork };
  } finally {
    await page.close();
  }
}

try {
  const sides: Side[] = [];
  for (const [name, url] of [['updraft', h.url], ['workbox', wb.url]] as const) {
    const page = await (await browser.newContext()).newPage();
    await page.goto(url);
    await page.waitForFunction(CONTROLLED, undefined, { timeout: 30_000 });
    if (name === 'updraft') await new UpdraftDriver(page).waitForRelease(app.manifest.id, { timeout: 30_000 });
    sides.push({ name, url, page, ms: [], doc: [], lastResource: [] });
  }
  // Warm-up, and proof that both are served by their worker (not the network or the HTTP cache).
  for (let i = 0; i < 3; i++) {
    for (const side of sides) {
      const { fromNetwork } = await load(side);
      if (i === 2 && fromNetwork.length > 0) throw new Error(`${side.name}: not from the worker: ${fromNetwork.join(', ')}`);
    }
  }
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const l = await load(side);
      side.ms.push(l.ms);
      side.doc.push(l.doc);
      side.lastResource.push(l.lastResource);
    }
  }
  const [u, w] = sides as [Side, Side];
  for (const side of sides) {
    console.log(`${side.name}: loadEventEnd ${spread(side.ms)}; document in the worker ${spread(side.doc)}; last subresource answered at ${spread(side.lastResource)}`);
  }
  console.log(`(median [min–max] of ${REPS} warm loads each, ${ASSETS} files)`);
  if (process.env.UPDRAFT_BENCH_DEBUG) for (const side of sides) console.log(side.name, side.ms.map((x) => Math.round(x)).join(" "));
  console.log(`last-subresource updraft/workbox=${(median(u.lastResource) / median(w.lastResource)).toFixed(2)}`);
  console.log(`cached-load updraft/workbox=${(median(u.ms) / median(w.ms)).toFixed(2)}`);
} finally {
  await browser.close();
  await wb.close();
  await h.close();
}
