/**
 * docs/migrating-from-vite-plugin-pwa.md, "Switching existing users over", in Chromium: a browser
 * that has the app's Workbox worker (vite-plugin-pwa's `generateSW`, `autoUpdate`) comes back after
 * the deploy that replaced it with Updraft.
 */
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import { computeReleaseId, MANIFEST_FILE, type ReleaseManifest } from '../protocol/index.js';
import { publishDirectory } from '../server/index.js';
import { test, expect } from './kit/index.js';
import { buildDir } from './support/builds.js';
import { Harness, TOKEN } from './support/harness.js';
import { workboxWorker } from './support/workbox-worker.js';

/** The app before the migration: its entry document registers its Workbox worker at `swPath`. */
async function serveOldApp(context: BrowserContext, origin: string, swPath: string): Promise<void> {
  const sw = await workboxWorker('/index.html');
  const html = `<!doctype html><p id="old">old app</p><script>navigator.serviceWorker.register(${JSON.stringify(swPath)})</script>`;
  await context.route(new URL(swPath, origin).href, (r) => r.fulfill({ contentType: 'text/javascript', body: sw }));
  for (const path of ['/', '/index.html']) await context.route(new URL(path, origin).href, (r) => r.fulfill({ contentType: 'text/html', body: html }));
}

async function visitOldApp(page: Page, h: Harness, swPath: string): Promise<void> {
  await serveOldApp(page.context(), h.url, swPath);
  await page.goto(h.url);
  await expect(page.locator('#old')).toBeVisible();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  // The deploy: from now on the origin serves the Updraft build only.
  await page.context().unrouteAll();
}

/** Publishes 1.0.0 with one more file, as \`public/<path>\` would put it in the build. */
async function publishWithFile(h: Harness, path: string, content: string): Promise<ReleaseManifest> {
  const dir = join(h.dataDir, 'with-file');
  cpSync(buildDir('1.0.0'), dir, { recursive: true });
  writeFileSync(join(dir, path), content);
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ReleaseManifest;
  const sha256 = createHash('sha256').update(content).digest('hex');
  manifest.assets = [...manifest.assets, { path, sha256, size: Buffer.byteLength(content), type: 'text/javascript' }].sort((a, b) => (a.path < b.path ? -1 : 1));
  manifest.id = await computeReleaseId(manifest.assets, manifest.entry, manifest.sw);
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  await publishDirectory(dir, { server: h.url, token: TOKEN, channel: 'stable' });
  return manifest;
}

const cacheNames = (page: Page) => page.evaluate(() => caches.keys());

test('a Workbox worker at /sw.js: the next navigation finds Updraft\'s sw.js, which takes over; the app runs from Updraft, Workbox\'s caches stay', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await visitOldApp(page, h, '/sw.js');
    expect((await cacheNames(page)).some((k) => k.startsWith('workbox-precache'))).toBe(true);

    // The old worker still answers this navigation from its precache: the old app, once.
    await page.reload();
    await updraft.waitForRelease(v1.id);
    const next = await page.reload();
    expect(next?.fromServiceWorker()).toBe(true);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.locator('#release')).toHaveText(v1.id);
    expect((await cacheNames(page)).some((k) => k.startsWith('workbox-precache'))).toBe(true);
  } finally {
    await h.close();
  }
});

const activeScripts = (page: Page) =>
  page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).map((r) => new URL(r.active?.scriptURL ?? 'about:blank').pathname));

test('a Workbox worker with another name keeps serving the old app while that URL answers 404; a public/service-worker.js that imports /sw.js (the guide\'s advice) hands its users to Updraft', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    await h.publish('1.0.0');
    await visitOldApp(page, h, '/service-worker.js');
    // The old worker answers every navigation with its precached app, which registers only the
    // old name: the new entry (and its registerUpdraft()) never runs, and the browser's update check
    // of the old name gets a 404, which leaves that worker in place.
    await page.reload();
    await expect(page.locator('#old')).toBeVisible();
    expect(await activeScripts(page)).toEqual(['/service-worker.js']);

    // The guide's fix: the old name serves a worker again, one that runs Updraft's.
    const v1 = await publishWithFile(h, 'service-worker.js', "importScripts('/sw.js');\n");
    await page.reload();
    await updraft.waitForRelease(v1.id);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    // The new entry's registerUpdraft() moves the registration to /sw.js.
    await expect.poll(() => activeScripts(page)).toEqual(['/sw.js']);
    await page.reload();
    await expect(page.locator('#release')).toHaveText(v1.id);
  } finally {
    await h.close();
  }
});
