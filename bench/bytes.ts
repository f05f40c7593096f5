/**
 * `npm run bench:bytes`: the bytes a service worker downloads to move one client from build 1 to
 * build 2 of a real Vite app (bench/vite-app.ts: create-vite vanilla-ts with a lazy route and
 * dayjs), in Chromium, in one run:
 * - Updraft with deltas (the server computes them after publish; the client checks in once they are), and with deltas off;
 * - vite-plugin-pwa (Workbox precache, generateSW) on a well-configured static host
 *   (bench/support/static-host.ts: brotli/gzip, ETags, immutable hashed files).
 * Two changes: one line in one module (`one-module`) and a dependency bump (`dep-bump`).
 * Bytes are counted at each server by a TCP proxy (bench/support/counting-proxy.ts): everything
 * the server sends from the moment build 2 is deployed until the client holds it — check-in,
 * plan, parts, deltas, reports for Updraft; the SW script, its imports and the changed precache
 * entries for Workbox. Ends with `bytes one-module: updraft-delta/workbox=R1 updraft-files/workbox=R2`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/kit/browser.js';
import { UpdraftDriver } from '../e2e/kit/driver.js';
import { MANIFEST_FILE, type ReleaseManifest } from '../protocol/index.js';
import { publishDirectory, startServer } from '../server/index.js';
import { CountingProxy } from './support/counting-proxy.js';
import { StaticHost } from './support/static-host.js';
import { buildAll, buildDir, type Variant } from './vite-app.js';

const TOKEN = 'bench-bytes-token';
type Change = Exclude<Variant, 'base'>;
const CHANGES: Change[] = ['one-module', 'dep-bump'];

interface Measured { bytes: number; requests: string[] }

/** URLs and encoded body sizes of what the service worker fetched, from Chromium's side (for the breakdown only). */
function swRequests(context: BrowserContext): { list: string[]; reset(): void } {
  const list: string[] = [];
  context.on('requestfinished', (req) => {
    if (!req.serviceWorker()) return;
    void req.sizes().then((s) => list.push(`${req.method()} ${new URL(req.url()).pathname.replace(/[0-9a-f]{64}/g, (h) => h.slice(0, 8) + '…')} ${s.responseBodySize}`), () => {});
  });
  return { list, reset: () => void (list.length = 0) };
}

async function updraftRun(browser: Browser, change: Change, deltas: boolean): Promise<Measured> {
  const data = mkdtempSync(join(tmpdir(), 'updraft-bench-bytes-'));
  const server = await startServer({ dataDir: data, token: TOKEN, ...(deltas ? {} : { deltas: false }) });
  const proxy = await new CountingProxy(server.port).start();
  const context = await browser.newContext();
  try {
    const seen = swRequests(context);
    await publishDirectory(buildDir('updraft', 'base'), { server: server.url, token: TOKEN, channel: 'stable' });
    const page = await context.newPage();
    await page.goto(proxy.url);
    const driver = new UpdraftDriver(page);
    const base = manifest(buildDir('updraft', 'base'));
    await driver.waitForActivated({ timeout: 30_000 });
    await driver.waitForRelease(base.id, { timeout: 30_000 });
    await settle(page);
    await proxy.quiet(); // the first check-in and reports, before build 2 exists, are not part of the move

    proxy.reset();
    seen.reset();
    const target = manifest(buildDir('updraft', change));
    await publishDirectory(buildDir('updraft', change), { server: server.url, token: TOKEN, channel: 'stable' });
    // The publish answers before the deltas are computed: what is measured is a move with them.
    await server.deltas?.idle();
    const reply = await driver.checkNow();
    if (reply.result !== 'update') throw new Error(`expected an update plan, got ${JSON.stringify(reply)}`);
    await driver.sync();
    await driver.waitForRelease(target.id, { timeout: 30_000 });
    // Reports go out after activation: let them finish so they are counted too.
    await proxy.quiet();
    return { bytes: proxy.bytes, requests: [...seen.list] };
  } finally {
    await context.close();
    await proxy.close();
    await server.close();
    rmSync(data, { recursive: true, force: true });
  }
}

async function workboxRun(browser: Browser, change: Change): Promise<Measured & { acceptEncoding: string[] }> {
  const host = await new StaticHost(buildDir('workbox', 'base')).start();
  const proxy = await new CountingProxy(host.port).start();
  const context = await browser.newContext();
  try {
    const seen = swRequests(context);
    const page = await context.newPage();
    await page.goto(proxy.url);
    // The first worker precaches everything, then activates (nothing to wait for on a first install).
    await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      if (reg.active?.state !== 'activated') await new Promise<void>((r) => reg.active!.addEventListener('statechange', () => reg.active!.state === 'activated' && r()));
    });
    await settle(page);
    await proxy.quiet();

    proxy.reset();
    seen.reset();
    host.root = buildDir('workbox', change); // the deploy
    // What the browser does on a navigation or its update check: fetch sw.js, and if it changed,
    // install the new worker, which precaches every entry whose URL or revision changed.
    await page.evaluate(async () => {
      const reg = (await navigator.serviceWorker.getRegistration())!;
      const installed = new Promise<void>((resolve, reject) => {
        reg.addEventListener('updatefound', () => {
          const w = reg.installing!;
          w.addEventListener('statechange', () => {
            if (w.state === 'installed' || w.state === 'activated') resolve();
            if (w.state === 'redundant') reject(new Error('the new worker failed to install'));
          });
        });
      });
      await reg.update();
      await installed;
    });
    await proxy.quiet();
    return { bytes: proxy.bytes, requests: [...seen.list], acceptEncoding: [...host.acceptEncodings] };
  } finally {
    await context.close();
    await proxy.close();
    await host.close();
  }
}

function manifest(dir: string): ReleaseManifest {
  return JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ReleaseManifest;
}

/** Lets in-flight work (lazy fetches, reports) finish before the counter is reset. */
async function settle(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle');
}

await buildAll();
const browser = await chromium.launch(chromiumLaunchOptions({ headless: true }));
const results: Record<Change, { delta: Measured; files: Measured; workbox: Measured }> = {} as never;
let acceptEncoding: string[] = [];
try {
  for (const change of CHANGES) {
    const delta = await updraftRun(browser, change, true);
    const files = await updraftRun(browser, change, false);
    const workbox = await workboxRun(browser, change);
    acceptEncoding = workbox.acceptEncoding;
    results[change] = { delta, files, workbox };
  }
} finally {
  await browser.close();
}

console.log(`Chromium ${browser.version()}, Accept-Encoding seen by the static host: ${acceptEncoding.join(' | ')}`);
for (const change of CHANGES) {
  const r = results[change];
  console.log(`\n${change}:`);
  for (const [name, m] of [['updraft-delta', r.delta], ['updraft-files', r.files], ['workbox', r.workbox]] as const) {
    console.log(`  ${name.padEnd(14)} ${String(m.bytes).padStart(7)} B on the wire`);
    for (const line of m.requests) console.log(`      ${line}`);
  }
  console.log(`  ratios: updraft-delta/workbox=${(r.delta.bytes / r.workbox.bytes).toFixed(3)} updraft-files/workbox=${(r.files.bytes / r.workbox.bytes).toFixed(3)}`);
}
const one = results['one-module'];
console.log(`\nbytes one-module: updraft-delta/workbox=${(one.delta.bytes / one.workbox.bytes).toFixed(3)} updraft-files/workbox=${(one.files.bytes / one.workbox.bytes).toFixed(3)}`);
