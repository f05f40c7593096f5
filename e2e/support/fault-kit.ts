/** Helpers the fault-matrix specs share: a v1 client to start from, and reads of the SW's storage from the page. */
import type { Page } from '@playwright/test';
import { expect, type UpdraftDriver } from '../kit/index.js';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeReleaseId, MANIFEST_FILE, type ReleaseManifest } from '../../protocol/index.js';
import { publishDirectory } from '../../server/index.js';
import { buildDir, type DemoVersion } from './builds.js';
import { TOKEN, type Harness } from './harness.js';

/** Publishes 1.0.0, opens the app, waits until the SW runs it; clears the servers' request logs. */
export async function visitV1(page: Page, updraft: UpdraftDriver, h: Harness): Promise<ReleaseManifest> {
  const v1 = await h.publish('1.0.0');
  await page.goto(h.url);
  await updraft.waitForRelease(v1.id);
  await expect(page.locator('#version')).toHaveText('1.0.0');
  h.traffic.clear();
  h.cdn?.traffic.clear();
  h.checkIns.length = 0;
  return v1;
}

/** sha256 of each part in Cache Storage `updraft-parts` (key hash → hash of the stored bytes), read from the page. */
export function storedParts(page: Page): Promise<Record<string, string>> {
  return page.evaluate(async () => {
    const cache = await caches.open('updraft-parts');
    const out: Record<string, string> = {};
    for (const req of await cache.keys()) {
      // The worker may collect a part between keys() and match(): skip it.
      const res = await cache.match(req);
      if (!res) continue;
      const bytes = await res.arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      out[req.url.slice(req.url.lastIndexOf('/') + 1)] = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    }
    return out;
  });
}

/** Request times (server clock) of the browser's requests for `path`, in order. */
export function times(h: Harness | NonNullable<Harness['cdn']>, path: string): number[] {
  return h.traffic.fromBrowser().filter((r) => r.path === path).map((r) => r.at);
}

export const blobPath = (sha: string) => `/v1/blobs/${sha}`;

/** The hashes every asset of `releases` needs. */
export function partsOf(...releases: ReleaseManifest[]): string[] {
  return [...new Set(releases.flatMap((r) => r.assets.map((a) => a.sha256)))].sort();
}

/**
 * Waits until `superseded`, a staged release a newer one replaced, is collected before any apply:
 * its record and the parts only it had go, and the worker keeps exactly `kept` (the active
 * release, the page's pin, the newly staged one) and their parts. Checks first that `superseded`
 * has parts of its own, so the collection is seen to happen.
 */
export async function expectCollected(page: Page, updraft: UpdraftDriver, superseded: ReleaseManifest, kept: ReleaseManifest[], what: string) {
  expect(partsOf(superseded).filter((sha) => !partsOf(...kept).includes(sha))).not.toEqual([]);
  const collected = await updraft.waitForState((s) => !s.releases.includes(superseded.id), {}, what);
  expect([...collected.releases].sort()).toEqual(kept.map((r) => r.id).sort());
  await expect.poll(async () => Object.keys(await storedParts(page)).sort()).toEqual(partsOf(...kept));
  return collected;
}

/**
 * Holds the SW's install step: the page keeps a read-write IndexedDB transaction on the `releases`
 * store alive (a request chain), so the SW's staging transaction (`releases` + `pointers`) queues
 * behind it. Deterministic, and no test hook in the worker. While held, anything in the SW that
 * reads `pointers` or `releases` queues too (its debug state included): watch the plan store with
 * `planTaskState` instead.
 */
export async function holdInstall(page: Page): Promise<void> {
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('updraft');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const store = db.transaction('releases', 'readwrite').objectStore('releases');
          const w = window as unknown as { __updraftUnhold?: () => void };
          let held = true;
          w.__updraftUnhold = () => {
            held = false;
          };
          const spin = () => {
            if (held) store.count().onsuccess = spin;
          };
          store.count().onsuccess = () => {
            spin();
            resolve();
          };
          store.transaction.oncomplete = () => db.close();
        };
      }),
  );
}

export async function releaseInstall(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as { __updraftUnhold?: () => void }).__updraftUnhold?.());
}

/** A plan task's state read straight from the SW's IndexedDB (`plan` store), bypassing the SW. */
export function planTaskState(page: Page, taskId: string): Promise<string | null> {
  return page.evaluate(
    (key) =>
      new Promise<string | null>((resolve, reject) => {
        const open = indexedDB.open('updraft');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const get = db.transaction('plan').objectStore('plan').get(key);
          get.onsuccess = () => {
            db.close();
            resolve((get.result as { state?: string } | undefined)?.state ?? null);
          };
          get.onerror = () => reject(get.error);
        };
      }),
    `task:${taskId}`,
  );
}

/**
 * A release made from demo build `base` plus one file copied from build `donor` (same path, same
 * bytes): two releases that share a part the oldest one lacks, as a vendor chunk would. Published
 * to `channel`; returns its manifest. The directory is removed with the harness data dir.
 */
export async function publishDerived(h: Harness, base: DemoVersion, donor: DemoVersion, donorPath: string): Promise<ReleaseManifest> {
  const dir = join(h.dataDir, `derived-${base}-${donor}`);
  cpSync(buildDir(base), dir, { recursive: true });
  cpSync(join(buildDir(donor), donorPath), join(dir, donorPath));
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ReleaseManifest;
  const donorAsset = h.manifest(donor).assets.find((a) => a.path === donorPath)!;
  manifest.assets = [...manifest.assets.filter((a) => a.path !== donorPath), donorAsset];
  manifest.id = await computeReleaseId(manifest.assets, manifest.entry, manifest.sw);
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  await publishDirectory(dir, { server: h.url, token: TOKEN, channel: 'stable' });
  return manifest;
}
