import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Rolldown } from 'vite';

const REPO = resolve(import.meta.dirname, '../..');
const TMP = join(REPO, '.tmp');

/**
 * The worker vite-plugin-pwa's `generateSW` makes (`registerType: 'autoUpdate'`): Workbox's
 * precache of `entry` plus a navigation route answering every navigation with it, skipWaiting
 * and clientsClaim. Built from the real workbox packages with Vite, as a classic script.
 */
export async function workboxWorker(entry: string): Promise<string> {
  // Inside the repository, so the workbox packages resolve from its node_modules.
  mkdirSync(TMP, { recursive: true });
  const dir = mkdtempSync(join(TMP, 'workbox-sw-'));
  try {
    const source = join(dir, 'sw.ts');
    writeFileSync(source, `
      import { clientsClaim } from 'workbox-core';
      import { precacheAndRoute, cleanupOutdatedCaches, createHandlerBoundToURL } from 'workbox-precaching';
      import { NavigationRoute, registerRoute } from 'workbox-routing';
      self.skipWaiting();
      clientsClaim();
      precacheAndRoute([{ url: ${JSON.stringify(entry)}, revision: '1' }]);
      cleanupOutdatedCaches();
      registerRoute(new NavigationRoute(createHandlerBoundToURL(${JSON.stringify(entry)})));
    `);
    const out = (await build({
      configFile: false,
      logLevel: 'warn',
      root: REPO,
      define: { 'process.env.NODE_ENV': '"production"' },
      build: { write: false, lib: { entry: source, formats: ['iife'], name: 'oldWorker' } },
    })) as Rolldown.RolldownOutput | Rolldown.RolldownOutput[];
    return (Array.isArray(out) ? out[0]! : out).output[0].code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
